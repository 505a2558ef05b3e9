"""Issue 8's room rules, on both databases: unique public names, the last owner, handing ownership
over, a server admin's powers, declining invitations, and mentions resolved to member ids."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from parley.core.errors import Conflict
from parley.store import migrate
from parley.store import rooms as room_store
from parley.store.db import async_url
from parley.store.tables import rooms
from parley.web.context import Context
from tests.contract.helpers import (
    PASSWORD,
    close_context,
    log_rows,
    open_context,
    outcome,
    register,
    warm_pool,
)


def _pick(view: dict, *keys: str) -> dict:
    return {k: view[k] for k in keys}


async def test_public_room_names_are_unique_ignoring_case(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    general = await ctx.rooms.create(ann, "General")
    stored = await log_rows(ctx)
    with pytest.raises(Conflict) as taken:
        await ctx.rooms.create(bob, "gENERAL")
    assert taken.value.status == 409 and "name" in taken.value.message
    assert await log_rows(ctx) == stored  # nothing of the refused room was kept

    # Private rooms and direct chats may share a name with anything.
    first = await ctx.rooms.create(bob, "general", visibility="private")
    second = await ctx.rooms.create(ann, "GENERAL", visibility="private")
    assert first["id"] != second["id"]
    await ctx.rooms.direct(ann, ["bob"])

    # Renaming: into a taken name is refused; a room may change the case of its own name.
    other = await ctx.rooms.create(ann, "random")
    assert await outcome(ctx.rooms.update(ann, other["id"], {"name": "general"})) == "conflict"
    assert (await ctx.rooms.get(ann, other["id"]))["name"] == "random"
    assert (await ctx.rooms.update(ann, general["id"], {"name": "GENERAL"}))["name"] == "GENERAL"
    assert (await ctx.rooms.update(ann, other["id"], {"name": "general-2", "topic": "t"}))["name"] == "general-2"
    # A renamed room frees its old name.
    assert (await ctx.rooms.create(bob, "Random"))["name"] == "Random"


async def test_racing_creations_of_one_public_name_make_one_room(ctx: Context) -> None:
    people = await register(ctx, "ann", "bob", "carl", "dave", "eve")
    await warm_pool(ctx, people[0], (await ctx.rooms.create(people[0], "warm-up"))["id"])
    results = await asyncio.gather(*(outcome(ctx.rooms.create(p, "RACE" if i % 2 else "race"))
                                     for i, p in enumerate(people)))
    assert sorted(results) == ["conflict"] * 4 + ["ok"]
    public = [r["name"].lower() for r in await ctx.rooms.public()]
    assert public.count("race") == 1


async def _run(url: str, *statements: sa.Executable) -> list[sa.Row]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            out: list[sa.Row] = []
            for statement in statements:
                result = await conn.execute(statement)
                out = list(result.all()) if result.returns_rows else out
            return out
    finally:
        await engine.dispose()


async def test_the_migration_renames_existing_duplicates(database_url: str) -> None:
    await migrate.upgrade(database_url, "0002")
    long = "x" * 80
    await _run(database_url, *(
        rooms.insert().values(kind=kind, name=name, topic="", visibility=visibility, archived=False,
                              created_at=i, last_seq=0)
        for i, (name, visibility, kind) in enumerate([
            ("Lobby", "public", "room"), ("lobby", "public", "room"), ("LOBBY", "public", "room"),
            ("lobby (2)", "public", "room"), ("lobby", "private", "room"), (long, "public", "room"),
            (long.upper(), "public", "room"), ("", "private", "direct"), ("", "private", "direct")])))
    await migrate.upgrade(database_url, "head")
    rows = await _run(database_url, sa.select(rooms.c.name).order_by(rooms.c.id))
    # The oldest keeps its name; "lobby (2)" existed, so the first copy takes (3).
    assert [r.name for r in rows] == ["Lobby", "lobby (3)", "LOBBY (4)", "lobby (2)", "lobby", long,
                                      "X" * 76 + " (2)", "", ""]
    ctx = await open_context(database_url)
    try:
        user, _ = await ctx.accounts.register("ann", PASSWORD)
        assert await outcome(ctx.rooms.create(user, "LOBBY (3)")) == "conflict"  # the index is in place
        assert await outcome(ctx.rooms.create(user, "lobby (5)")) == "ok"
    finally:
        await close_context(ctx)


async def test_the_last_owner_hands_ownership_over_before_leaving(ctx: Context) -> None:
    _root, ann, bob, carl = await register(ctx, "root", "ann", "bob", "carl")  # the first is the server admin
    rid = (await ctx.rooms.create(ann, "lobby"))["id"]
    await ctx.rooms.join(bob, rid)
    await ctx.rooms.invite(ann, rid, ["carl"])
    before = len(await log_rows(ctx, rid))
    with pytest.raises(Conflict) as last:
        await ctx.rooms.leave(ann, rid)
    assert "owner" in last.value.message
    assert len(await log_rows(ctx, rid)) == before

    # Only the owner hands ownership over, and only to a joined member.
    assert await outcome(ctx.rooms.set_role(bob, rid, bob.id, "owner")) == "forbidden"
    assert await outcome(ctx.rooms.set_role(ann, rid, carl.id, "owner")) == "not_found"  # only invited
    assert await outcome(ctx.rooms.set_role(ann, rid, ann.id, "owner")) == "forbidden"
    assert len(await log_rows(ctx, rid)) == before

    view = await ctx.rooms.set_role(ann, rid, bob.id, "owner")
    assert _pick(view, "user", "role", "state") == {"user": bob.profile(), "role": "owner", "state": "joined"}
    updates = (await ctx.messages.history(bob, rid))["messages"][-2:]
    assert [_pick(e, "type", "sender", "user", "role") for e in updates] == [
        {"type": "member_updated", "sender": ann.public(), "user": bob.public(), "role": "owner"},
        {"type": "member_updated", "sender": ann.public(), "user": ann.public(), "role": "admin"}]
    assert updates[1]["seq"] == updates[0]["seq"] + 1
    roles = {m["user"]["username"]: m["role"] for m in await ctx.rooms.members(bob, rid)}
    assert roles == {"ann": "admin", "bob": "owner", "carl": "member"}
    assert (await ctx.rooms.get(ann, rid))["my_role"] == "admin"

    # The former owner leaves freely now; the new one is the last owner with others in the room.
    await ctx.rooms.leave(ann, rid)
    await ctx.rooms.join(carl, rid)
    assert await outcome(ctx.rooms.leave(bob, rid)) == "conflict"
    await ctx.rooms.leave(carl, rid)
    await ctx.rooms.leave(bob, rid)  # alone: nobody is left unmanaged
    assert await ctx.rooms.mine(bob) == []


async def test_a_server_admin_manages_any_room_and_names_its_owner(ctx: Context) -> None:
    ann, bob, carl, eve = await register(ctx, "ann", "bob", "carl", "eve")
    root, _ = await ctx.accounts.register("root", PASSWORD, admin=True)
    assert (ann.is_admin, bob.is_admin, root.is_admin) == (True, False, True)  # ann: the first account
    rid = (await ctx.rooms.create(bob, "hidden", "plans", "private"))["id"]
    await ctx.rooms.invite(bob, rid, ["carl"])
    await ctx.rooms.join(carl, rid)
    await ctx.messages.send(bob, rid, "the secret")

    # Another user sees no such room; the server admin opens its settings and member list.
    for call in (ctx.rooms.get(eve, rid), ctx.rooms.members(eve, rid), ctx.rooms.update(eve, rid, {"topic": "x"}),
                 ctx.rooms.set_role(eve, rid, carl.id, "owner")):
        assert await outcome(call) == "not_found"
    card = await ctx.rooms.get(root, rid)
    assert _pick(card, "name", "topic", "visibility", "member_count") == {
        "name": "hidden", "topic": "plans", "visibility": "private", "member_count": 2}
    assert "my_role" not in card
    assert {m["user"]["username"] for m in await ctx.rooms.members(root, rid)} == {"bob", "carl"}
    # ...but reads no messages and cannot post.
    assert await outcome(ctx.messages.history(root, rid)) == "not_found"
    assert await outcome(ctx.messages.send(root, rid, "hello")) == "not_found"

    assert (await ctx.rooms.update(root, rid, {"topic": "new plans"}))["topic"] == "new plans"
    assert await outcome(ctx.rooms.set_role(root, rid, carl.id, "admin")) == "forbidden"  # owners only
    view = await ctx.rooms.set_role(root, rid, carl.id, "owner")
    assert view["role"] == "owner"
    roles = {m["user"]["username"]: m["role"] for m in await ctx.rooms.members(carl, rid)}
    assert roles == {"bob": "admin", "carl": "owner"}
    events = (await ctx.messages.history(carl, rid))["messages"][-3:]
    assert [(e["type"], e["sender"]["username"]) for e in events] == [
        ("room_updated", "root"), ("member_updated", "root"), ("member_updated", "root")]

    # A room whose owner left (alone at the time, or before this rule) gets a new one.
    await ctx.rooms.leave(bob, rid)
    await ctx.rooms.leave(carl, rid)
    assert (await ctx.rooms.update(root, rid, {"archived": True}))["archived"] is True
    assert (await ctx.rooms.update(root, rid, {"archived": False}))["archived"] is False
    assert await outcome(ctx.rooms.set_role(root, rid, carl.id, "owner")) == "not_found"  # left

    # Direct chats stay private to their participants, admins included.
    chat, _ = await ctx.rooms.direct(bob, ["carl"])
    for call in (ctx.rooms.get(root, chat["id"]), ctx.rooms.members(root, chat["id"]),
                 ctx.rooms.update(root, chat["id"], {"topic": "x"})):
        assert await outcome(call) == "not_found"


async def test_declining_an_invitation_is_a_member_left_for_everyone(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    rid = (await ctx.rooms.create(ann, "staff", visibility="private"))["id"]
    await ctx.rooms.invite(ann, rid, ["bob"])
    assert [m["state"] for m in await ctx.rooms.members(ann, rid)] == ["joined", "invited"]
    await ctx.rooms.leave(bob, rid)
    rows = await log_rows(ctx, rid)
    assert [(r.type, r.sender_id) for r in rows[-2:]] == [("member_invited", ann.id), ("member_left", bob.id)]
    assert [m["user"]["id"] for m in await ctx.rooms.members(ann, rid)] == [ann.id]
    assert await outcome(ctx.rooms.leave(bob, rid)) == "not_found"
    assert len(await log_rows(ctx, rid)) == len(rows)


async def test_mentions_are_resolved_to_room_members_when_sent(ctx: Context) -> None:
    ann, bob, bobby, carl, dave, eve = await register(ctx, "ann", "bob", "bobby", "carl", "dave", "eve")
    rid = (await ctx.rooms.create(ann, "lobby"))["id"]
    for user in (bob, bobby, dave):
        await ctx.rooms.join(user, rid)
    await ctx.rooms.invite(ann, rid, ["carl"])  # invited members count
    await ctx.rooms.leave(dave, rid)  # former members do not; eve never was one

    text = "@BOBBY, @bob. @carl @dave @eve @nobody ann@bob.org @bob again (@ann)"
    event, _ = await ctx.messages.send(ann, rid, text, "m1")
    assert event.wire()["mentions"] == [bobby.id, bob.id, carl.id, ann.id]
    plain, _ = await ctx.messages.send(ann, rid, "no one here, not even @bobb or @bobbyy")
    assert plain.wire()["mentions"] == []

    stored = (await ctx.messages.history(bob, rid))["messages"][-2:]
    assert [m["mentions"] for m in stored] == [[bobby.id, bob.id, carl.id, ann.id], []]
    assert [e.wire()["mentions"] for e in await ctx.messages.replay(rid, event.seq - 1)] == [
        [bobby.id, bob.id, carl.id, ann.id], []]
    retry, created = await ctx.messages.send(ann, rid, text, "m1")
    assert (created, retry.wire()["mentions"]) == (False, [bobby.id, bob.id, carl.id, ann.id])

    # The counts use the stored ids: "@bobby" is no mention of bob.
    await ctx.messages.send(ann, rid, "@bobby only")
    counts = {u.username: (await ctx.rooms.get(u, rid))["mentions"] for u in (bob, bobby)}
    assert counts == {"bob": 1, "bobby": 2}
    listed = next(r for r in await ctx.rooms.mine(bobby) if r["id"] == rid)
    assert listed["mentions"] == 2

    # Someone who joins later was not mentioned by what was sent before.
    await ctx.rooms.join(eve, rid)
    assert (await ctx.rooms.get(eve, rid))["mentions"] == 0


async def test_one_batch_resolves_mentions_in_many_rooms(ctx: Context) -> None:
    ann, bob, carl = await register(ctx, "ann", "bob", "carl")
    first = (await ctx.rooms.create(ann, "first"))["id"]
    second = (await ctx.rooms.create(ann, "second"))["id"]
    await ctx.rooms.join(bob, first)
    await ctx.rooms.join(carl, second)
    sends = [ctx.messages.send(ann, room, f"{i} @bob @carl") for i in range(20) for room in (first, second)]
    results = await asyncio.gather(*sends)
    expected = {first: [bob.id], second: [carl.id]}  # carl is no member of the first room, bob of the second
    assert all(created for _, created in results)
    assert [ev.wire()["mentions"] for ev, _ in results] == [expected[ev.room_id] for ev, _ in results]
    stored = (await ctx.messages.history(ann, first, limit=100))["messages"]
    assert [m["mentions"] for m in stored if m["type"] == "message"] == [[bob.id]] * 20
    assert (await ctx.rooms.get(bob, first))["mentions"] == 20
    assert (await ctx.rooms.get(carl, second))["mentions"] == 20


async def test_sharing_lists_everyone_who_sees_a_user_in_a_member_list(ctx: Context) -> None:
    ann, bob, carl, dave, eve = await register(ctx, "ann", "bob", "carl", "dave", "eve")
    lobby = (await ctx.rooms.create(ann, "lobby"))["id"]
    await ctx.rooms.join(bob, lobby)
    staff = (await ctx.rooms.create(carl, "staff", visibility="private"))["id"]
    await ctx.rooms.invite(carl, staff, ["ann"])  # carl sees ann, invited, in his member list
    gone = (await ctx.rooms.create(dave, "gone"))["id"]
    await ctx.rooms.join(ann, gone)
    await ctx.rooms.leave(ann, gone)  # dave no longer does
    async with ctx.db.read() as conn:
        assert await room_store.sharing(conn, ann.id) == sorted([ann.id, bob.id, carl.id])
        assert await room_store.sharing(conn, eve.id) == [eve.id]


async def test_admins_change_a_rooms_visibility_as_a_room_updated_event(ctx: Context) -> None:
    ann, mod, bob, eve = await register(ctx, "ann", "mod", "bob", "eve")
    room = await ctx.rooms.create(ann, "garden", visibility="private")
    rid = room["id"]
    await ctx.rooms.invite(ann, rid, ["mod", "bob"])
    for user in (mod, bob):
        await ctx.rooms.join(user, rid)
    await ctx.rooms.set_role(ann, rid, mod.id, "moderator")
    assert [r["id"] for r in await ctx.rooms.public()] == []
    assert await outcome(ctx.rooms.update(mod, rid, {"visibility": "public"})) == "forbidden"  # admins and up
    assert await outcome(ctx.rooms.update(eve, rid, {"visibility": "public"})) == "not_found"  # not a member
    assert await outcome(ctx.rooms.update(ann, rid, {"visibility": "secret"})) == "invalid"
    await ctx.rooms.set_role(ann, rid, mod.id, "admin")
    view = await ctx.rooms.update(mod, rid, {"visibility": "public"})
    assert view["visibility"] == "public"
    assert [r["id"] for r in await ctx.rooms.public()] == [rid]
    await ctx.rooms.join(eve, rid)  # a public room: anyone joins
    updates = [e for e in await ctx.messages.replay(rid, 0) if e.type == "room_updated"]
    assert [(e.sender["id"], e.data) for e in updates] == [(mod.id, {"changes": {"visibility": "public"}})]

    other = await ctx.rooms.create(bob, "Garden2")
    await ctx.rooms.update(bob, other["id"], {"name": "plants", "visibility": "private"})
    await ctx.rooms.update(ann, rid, {"visibility": "private"})
    assert [r["id"] for r in await ctx.rooms.public()] == []
    await ctx.rooms.create(bob, "GARDEN")  # a public room of the same name, any case
    assert await outcome(ctx.rooms.update(ann, rid, {"visibility": "public"})) == "conflict"
    assert (await ctx.rooms.update(ann, rid, {"topic": "still private"}))["visibility"] == "private"
