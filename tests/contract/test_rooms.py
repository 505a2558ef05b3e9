"""Rooms, membership, roles, archiving and direct chats."""

from __future__ import annotations

import asyncio

import pytest

from parley.core.errors import Forbidden, Invalid, NotFound
from parley.store import rooms as room_store
from parley.web.context import Context
from tests.contract.helpers import log_rows, message_count, outcome, register, warm_pool, whole_history


def _pick(view: dict, *keys: str) -> dict:
    return {k: view[k] for k in keys}


def _people(view: dict) -> list[dict]:
    """A direct chat's participants; the protocol does not fix their order."""
    return sorted(view["members"], key=lambda u: u["username"])


async def test_create_room_starts_its_log_with_created_then_owner_joined(ctx: Context) -> None:
    (owner,) = await register(ctx, "ann")
    room = await ctx.rooms.create(owner, "  General   chat ", "Say hi", "public")
    assert room["id"] > 0 and room["created_at"] > 0
    assert _pick(room, "kind", "name", "topic", "visibility", "archived", "last_seq", "member_count",
                 "my_role", "my_state", "read_seq", "unread", "members") == {
        "kind": "room", "name": "General chat", "topic": "Say hi", "visibility": "public", "archived": False,
        "last_seq": 2, "member_count": 1, "my_role": "owner", "my_state": "joined", "read_seq": 2,
        "unread": 0, "members": None}
    assert await ctx.rooms.get(owner, room["id"]) == room

    page = await ctx.messages.history(owner, room["id"])
    assert (page["has_more"], page["last_seq"]) == (False, 2)
    created, joined = page["messages"]
    assert _pick(created, "type", "room", "seq", "sender", "name", "kind", "visibility") == {
        "type": "room_created", "room": room["id"], "seq": 1, "sender": owner.public(), "name": "General chat",
        "kind": "room", "visibility": "public"}
    assert _pick(joined, "type", "room", "seq", "sender", "user", "role") == {
        "type": "member_joined", "room": room["id"], "seq": 2, "sender": owner.public(),
        "user": owner.public(), "role": "owner"}

    private = await ctx.rooms.create(owner, "staff", visibility="private")
    assert (private["visibility"], private["last_seq"], private["topic"]) == ("private", 2, "")
    assert [r["id"] for r in await ctx.rooms.mine(owner)] == [room["id"], private["id"]]
    stored = await log_rows(ctx)

    # Bad fields are refused and store nothing.
    for name, topic, visibility in [("", "", "public"), ("   ", "", "public"), ("x" * 81, "", "public"),
                                    (None, "", "public"), ("ok", "t" * 501, "public"), ("ok", "", "secret"),
                                    ("ok", "", None), ("bell\x07", "", "public")]:
        with pytest.raises(Invalid):
            await ctx.rooms.create(owner, name, topic, visibility)
    assert len(await ctx.rooms.mine(owner)) == 2
    assert await log_rows(ctx) == stored


async def test_mine_lists_joined_and_invited_rooms_with_unread_counts(ctx: Context) -> None:
    ann, bob, carl = await register(ctx, "ann", "bob", "carl")
    lobby = await ctx.rooms.create(ann, "lobby")
    secret = await ctx.rooms.create(ann, "secret", visibility="private")
    await ctx.rooms.join(bob, lobby["id"])
    for i in range(3):
        await ctx.messages.send(ann, lobby["id"], f"hello {i}")
    await ctx.messages.send(bob, lobby["id"], "hi ann")
    await ctx.rooms.invite(ann, secret["id"], ["bob"])

    bobs = await ctx.rooms.mine(bob)
    assert [(r["id"], r["my_state"], r["my_role"], r["member_count"]) for r in bobs] == [
        (lobby["id"], "joined", "member", 2), (secret["id"], "invited", "member", 1)]
    assert (bobs[0]["unread"], bobs[0]["last_seq"]) == (3, 7)  # 3 from ann; his own and joins do not count
    assert (bobs[1]["unread"], bobs[1]["mentions"]) == (None, None)  # no counts while only invited

    anns = {r["id"]: r for r in await ctx.rooms.mine(ann)}
    assert (anns[lobby["id"]]["unread"], anns[secret["id"]]["unread"]) == (1, 0)
    assert anns[secret["id"]]["last_seq"] == 3  # the invite is in the log
    assert await ctx.rooms.mine(carl) == []

    # Each entry of the list is the room as rooms.get shows it (direct chats too).
    await ctx.rooms.direct(carl, ["ann", "bob"])
    for user in (ann, bob, carl):
        for listed in await ctx.rooms.mine(user):
            if listed["my_state"] == "joined":
                assert listed == await ctx.rooms.get(user, listed["id"])


async def test_a_rooms_unread_count_agrees_with_its_last_seq(ctx: Context) -> None:
    """rooms.get reads the room, then the counts: a message committed in between must not be in the
    counts without being below `last_seq` (the client counts it again when its event arrives)."""
    ann, bob = await register(ctx, "ann", "bob")
    lobby = (await ctx.rooms.create(ann, "lobby"))["id"]
    await ctx.rooms.join(bob, lobby)
    first = await ctx.messages.send(ann, lobby, "one @bob")
    await ctx.messages.send(ann, lobby, "two @bob")
    async with ctx.db.read() as conn:
        assert await room_store.unread(conn, lobby, bob, first[0].seq) == (1, 1)  # as of the room read
        assert await room_store.unread(conn, lobby, bob) == (2, 2)
    view = await ctx.rooms.get(bob, lobby)
    assert (view["unread"], view["mentions"], view["last_seq"]) == (2, 2, first[0].seq + 1)


async def test_public_listing_counts_members_and_hides_private_direct_and_archived(ctx: Context) -> None:
    ann, bob, carl = await register(ctx, "ann", "bob", "carl")
    alpha = await ctx.rooms.create(ann, "Alpha", "first")
    beta = await ctx.rooms.create(ann, "beta_room")
    await ctx.rooms.create(ann, "Alphabet soup", visibility="private")
    await ctx.rooms.direct(ann, ["bob"])
    old = await ctx.rooms.create(ann, "Alpha archive")
    await ctx.rooms.update(ann, old["id"], {"archived": True})
    await ctx.rooms.join(bob, beta["id"])
    await ctx.rooms.join(carl, beta["id"])

    listed = await ctx.rooms.public()
    assert [(r["id"], r["member_count"]) for r in listed] == [(beta["id"], 3), (alpha["id"], 1)]
    assert _pick(listed[1], "kind", "name", "topic", "visibility", "archived") == {
        "kind": "room", "name": "Alpha", "topic": "first", "visibility": "public", "archived": False}
    assert "my_state" not in listed[0]  # the public listing says nothing about the caller

    assert [r["id"] for r in await ctx.rooms.public("alp")] == [alpha["id"]]
    assert [r["id"] for r in await ctx.rooms.public("ALP")] == [alpha["id"]]
    assert [r["id"] for r in await ctx.rooms.public("a_r")] == [beta["id"]]
    assert await ctx.rooms.public("%") == []
    assert [r["id"] for r in await ctx.rooms.public(limit=1)] == [beta["id"]]

    await ctx.rooms.leave(carl, beta["id"])
    await ctx.rooms.leave(bob, beta["id"])
    assert [(r["id"], r["member_count"]) for r in await ctx.rooms.public()] == [(alpha["id"], 1), (beta["id"], 1)]


async def test_join_a_public_room_once(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    room = await ctx.rooms.create(ann, "lobby")
    await ctx.messages.send(ann, room["id"], "before bob")

    view = await ctx.rooms.join(bob, room["id"])
    assert _pick(view, "my_state", "my_role", "member_count", "last_seq", "read_seq", "unread") == {
        "my_state": "joined", "my_role": "member", "member_count": 2, "last_seq": 4, "read_seq": 4, "unread": 0}
    joined = (await ctx.messages.history(bob, room["id"]))["messages"][-1]
    assert _pick(joined, "type", "seq", "sender", "user", "role") == {
        "type": "member_joined", "seq": 4, "sender": bob.public(), "user": bob.public(), "role": "member"}

    again = await ctx.rooms.join(bob, room["id"])
    assert (again["last_seq"], again["member_count"]) == (4, 2)
    assert len(await log_rows(ctx, room["id"])) == 4
    members = await ctx.rooms.members(bob, room["id"])
    assert [(m["user"]["username"], m["role"], m["state"]) for m in members] == [
        ("ann", "owner", "joined"), ("bob", "member", "joined")]
    with pytest.raises(NotFound):
        await ctx.rooms.join(bob, 987654)


async def test_racing_joins_of_one_user_add_one_member_joined(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    room = await ctx.rooms.create(ann, "lobby")
    await warm_pool(ctx, ann, room["id"])
    results = await asyncio.gather(*(ctx.rooms.join(bob, room["id"]) for _ in range(6)), return_exceptions=True)
    assert all(isinstance(r, dict) for r in results), [type(r).__name__ for r in results]
    rows = await log_rows(ctx, room["id"])
    assert [r.type for r in rows] == ["room_created", "member_joined", "member_joined"]
    assert (await ctx.rooms.get(ann, room["id"]))["member_count"] == 2


async def test_private_room_join_needs_an_invite(ctx: Context) -> None:
    ann, bob, carl = await register(ctx, "ann", "bob", "carl")
    room = await ctx.rooms.create(ann, "staff", visibility="private")
    rid = room["id"]
    for call in (ctx.rooms.join(bob, rid), ctx.rooms.get(bob, rid)):
        with pytest.raises(NotFound):
            await call

    assert await ctx.rooms.invite(ann, rid, ["Bob"]) == [bob.public()]
    invited = (await ctx.messages.history(ann, rid))["messages"][-1]
    assert _pick(invited, "type", "seq", "sender", "user") == {
        "type": "member_invited", "seq": 3, "sender": ann.public(), "user": bob.public()}
    view = await ctx.rooms.join(bob, rid)
    assert _pick(view, "my_state", "my_role", "member_count", "last_seq") == {
        "my_state": "joined", "my_role": "member", "member_count": 2, "last_seq": 4}
    with pytest.raises(NotFound):
        await ctx.rooms.join(carl, rid)

    # Leaving ends the invitation: coming back takes a new one.
    await ctx.rooms.leave(bob, rid)
    with pytest.raises(NotFound):
        await ctx.rooms.join(bob, rid)
    await ctx.rooms.invite(ann, rid, ["bob"])
    assert (await ctx.rooms.join(bob, rid))["my_state"] == "joined"


async def test_invite_roles_and_rules(ctx: Context) -> None:
    ann, bob, carl, dave, eve, fay = await register(ctx, "ann", "bob", "carl", "dave", "eve", "fay")
    lobby = await ctx.rooms.create(ann, "lobby")
    staff = await ctx.rooms.create(ann, "staff", visibility="private")
    await ctx.rooms.join(bob, lobby["id"])

    # Members may invite to public rooms.
    assert await ctx.rooms.invite(bob, lobby["id"], ["carl"]) == [carl.public()]
    assert [(r["id"], r["my_state"]) for r in await ctx.rooms.mine(carl)] == [(lobby["id"], "invited")]

    # ... but not to private ones; moderators and up may.
    await ctx.rooms.invite(ann, staff["id"], ["bob"])
    await ctx.rooms.join(bob, staff["id"])
    before = len(await log_rows(ctx, staff["id"]))
    with pytest.raises(Forbidden):
        await ctx.rooms.invite(bob, staff["id"], ["dave"])
    assert len(await log_rows(ctx, staff["id"])) == before
    await ctx.rooms.set_role(ann, staff["id"], bob.id, "moderator")
    assert await ctx.rooms.invite(bob, staff["id"], ["dave"]) == [dave.public()]
    await ctx.rooms.set_role(ann, staff["id"], bob.id, "admin")
    assert await ctx.rooms.invite(bob, staff["id"], ["EVE", "eve"]) == [eve.public()]

    # Invited people cannot invite; joined and already-invited people get no second event.
    with pytest.raises(NotFound):
        await ctx.rooms.invite(dave, staff["id"], ["fay"])
    before = len(await log_rows(ctx, staff["id"]))
    invited = await ctx.rooms.invite(ann, staff["id"], ["bob", "dave"])
    assert sorted(u["username"] for u in invited) == ["bob", "dave"]
    assert len(await log_rows(ctx, staff["id"])) == before

    # Unknown and disabled users, and malformed lists, invite nobody.
    await ctx.accounts.disable("fay")
    for names in (["nobody"], ["fay"], ["carl", "nobody"], [], "carl", ["x y"]):
        with pytest.raises(Invalid):
            await ctx.rooms.invite(ann, staff["id"], names)
    assert len(await log_rows(ctx, staff["id"])) == before
    members = await ctx.rooms.members(ann, staff["id"])
    assert [(m["user"]["username"], m["role"], m["state"]) for m in members] == [
        ("ann", "owner", "joined"), ("bob", "admin", "joined"), ("dave", "member", "invited"),
        ("eve", "member", "invited")]


async def test_roles_are_given_below_ones_own(ctx: Context) -> None:
    ann, bob, carl, dave, eve, fay = await register(ctx, "ann", "bob", "carl", "dave", "eve", "fay")
    room = await ctx.rooms.create(ann, "lobby")
    rid = room["id"]
    for user in (bob, carl, dave):
        await ctx.rooms.join(user, rid)
    await ctx.rooms.invite(ann, rid, ["eve"])

    view = await ctx.rooms.set_role(ann, rid, bob.id, "admin")
    assert _pick(view, "user", "role", "state") == {"user": bob.profile(), "role": "admin", "state": "joined"}
    event = (await ctx.messages.history(carl, rid))["messages"][-1]
    assert _pick(event, "type", "sender", "user", "role") == {
        "type": "member_updated", "sender": ann.public(), "user": bob.public(), "role": "admin"}
    before = len(await log_rows(ctx, rid))
    assert (await ctx.rooms.set_role(ann, rid, bob.id, "admin"))["role"] == "admin"
    assert len(await log_rows(ctx, rid)) == before  # no change, no event

    assert (await ctx.rooms.set_role(bob, rid, carl.id, "moderator"))["role"] == "moderator"
    refusals = [
        (bob, carl.id, "admin", "forbidden"),  # not below his own
        (bob, ann.id, "member", "forbidden"),  # the owner outranks him
        (bob, bob.id, "member", "forbidden"),  # not his own
        (ann, ann.id, "admin", "forbidden"),
        (carl, dave.id, "member", "forbidden"),  # moderators give no roles
        (dave, carl.id, "member", "forbidden"),
        (bob, dave.id, "owner", "forbidden"),  # only the owner hands ownership over
        (ann, dave.id, "boss", "invalid"),
        (ann, dave.id, None, "invalid"),
        (ann, eve.id, "moderator", "not_found"),  # invited, not joined
        (ann, fay.id, "moderator", "not_found"),  # not a member
        (ann, 987654, "moderator", "not_found"),
        (fay, dave.id, "moderator", "not_found"),  # outsiders see no room
    ]
    got = [(a.username, t, r, await outcome(ctx.rooms.set_role(a, rid, t, r))) for a, t, r, _ in refusals]
    assert got == [(a.username, t, r, want) for a, t, r, want in refusals]
    assert len(await log_rows(ctx, rid)) == before + 1

    assert (await ctx.rooms.set_role(ann, rid, bob.id, "member"))["role"] == "member"
    assert await outcome(ctx.rooms.set_role(bob, rid, dave.id, "moderator")) == "forbidden"
    roles = {m["user"]["username"]: m["role"] for m in await ctx.rooms.members(dave, rid)}
    assert roles == {"ann": "owner", "bob": "member", "carl": "moderator", "dave": "member", "eve": "member"}

    chat, _ = await ctx.rooms.direct(ann, ["bob"])
    assert await outcome(ctx.rooms.set_role(ann, chat["id"], bob.id, "moderator")) == "forbidden"
    await ctx.rooms.update(ann, rid, {"archived": True})
    assert await outcome(ctx.rooms.set_role(ann, rid, dave.id, "moderator")) == "forbidden"


async def test_leave(ctx: Context) -> None:
    ann, bob, carl = await register(ctx, "ann", "bob", "carl")
    room = await ctx.rooms.create(ann, "lobby")
    rid = room["id"]
    await ctx.rooms.join(bob, rid)
    await ctx.rooms.leave(bob, rid)

    left = (await ctx.messages.history(ann, rid))["messages"][-1]
    assert _pick(left, "type", "seq", "sender", "user") == {
        "type": "member_left", "seq": 4, "sender": bob.public(), "user": bob.public()}
    assert (await ctx.rooms.get(ann, rid))["member_count"] == 1
    assert await ctx.rooms.mine(bob) == []
    assert "my_state" not in await ctx.rooms.get(bob, rid)  # public, so visible, but not his any more
    for call in (ctx.rooms.members(bob, rid), ctx.rooms.leave(bob, rid)):
        with pytest.raises(NotFound):
            await call
    # What he saw stays readable up to his leave (issue 10), and nothing after it.
    await ctx.messages.send(ann, rid, "after bob left")
    former = await ctx.messages.history(bob, rid)
    assert former["messages"][-1]["type"] == "member_left" and former["last_seq"] == 4
    assert former["former"]["left_seq"] == 4

    assert (await ctx.rooms.join(bob, rid))["my_state"] == "joined"
    assert (await ctx.messages.history(bob, rid))["messages"][-1]["type"] == "member_joined"

    # Declining an invitation is a member_left in the log, so every member list drops the invitee.
    staff = await ctx.rooms.create(ann, "staff", visibility="private")
    await ctx.rooms.invite(ann, staff["id"], ["carl"])
    await ctx.rooms.leave(carl, staff["id"])
    declined = (await ctx.messages.history(ann, staff["id"]))["messages"][-1]
    assert _pick(declined, "type", "seq", "sender", "user") == {
        "type": "member_left", "seq": 4, "sender": carl.public(), "user": carl.public()}
    assert [m["user"]["username"] for m in await ctx.rooms.members(ann, staff["id"])] == ["ann"]
    assert await ctx.rooms.mine(carl) == []
    with pytest.raises(NotFound):
        await ctx.rooms.get(carl, staff["id"])


async def test_name_and_topic_need_admin_and_archive_needs_owner(ctx: Context) -> None:
    ann, bob, carl, dave, eve = await register(ctx, "ann", "bob", "carl", "dave", "eve")
    room = await ctx.rooms.create(ann, "lobby", "old topic")
    rid = room["id"]
    for user in (bob, carl, dave):
        await ctx.rooms.join(user, rid)
    await ctx.rooms.set_role(ann, rid, carl.id, "moderator")
    await ctx.rooms.set_role(ann, rid, dave.id, "admin")
    before = len(await log_rows(ctx, rid))

    for user in (bob, carl):
        for changes in ({"name": "mine now"}, {"topic": "mine now"}, {"archived": True}):
            with pytest.raises(Forbidden):
                await ctx.rooms.update(user, rid, changes)
    with pytest.raises(Forbidden):
        await ctx.rooms.update(dave, rid, {"archived": True})
    with pytest.raises(NotFound):
        await ctx.rooms.update(eve, rid, {"name": "outsider"})
    for changes in ({}, {"colour": "red"}, {"name": ""}, {"topic": "t" * 501}, {"archived": "yes"},
                    {"name": "ok", "owner": "me"}):
        with pytest.raises(Invalid):
            await ctx.rooms.update(ann, rid, changes)
    assert len(await log_rows(ctx, rid)) == before

    view = await ctx.rooms.update(dave, rid, {"name": "Lounge", "topic": "new topic"})
    assert _pick(view, "name", "topic", "archived", "my_role") == {
        "name": "Lounge", "topic": "new topic", "archived": False, "my_role": "admin"}
    event = (await ctx.messages.history(ann, rid))["messages"][-1]
    assert _pick(event, "type", "seq", "sender", "changes") == {
        "type": "room_updated", "seq": before + 1, "sender": dave.public(),
        "changes": {"name": "Lounge", "topic": "new topic"}}
    assert (await ctx.rooms.update(ann, rid, {"topic": ""}))["topic"] == ""
    assert (await ctx.rooms.get(bob, rid))["name"] == "Lounge"


async def test_archived_room_is_read_only(ctx: Context) -> None:
    ann, bob, carl = await register(ctx, "ann", "bob", "carl")
    room = await ctx.rooms.create(ann, "lobby")
    rid = room["id"]
    await ctx.rooms.join(bob, rid)
    await ctx.messages.send(ann, rid, "last words")

    view = await ctx.rooms.update(ann, rid, {"archived": True})
    assert view["archived"] is True
    event = (await ctx.messages.history(bob, rid))["messages"][-1]
    assert (event["type"], event["changes"]) == ("room_updated", {"archived": True})
    stored = len(await log_rows(ctx, rid))

    for call in (ctx.messages.send(ann, rid, "more"), ctx.messages.send(bob, rid, "more", "c-1"),
                 ctx.messages.typing(bob, rid), ctx.rooms.invite(ann, rid, ["carl"]),
                 ctx.rooms.join(carl, rid), ctx.rooms.update(ann, rid, {"name": "new name"})):
        with pytest.raises(Forbidden):
            await call
    assert len(await log_rows(ctx, rid)) == stored
    assert rid not in [r["id"] for r in await ctx.rooms.public()]

    # Still readable by its members, and read markers still move.
    page = await ctx.messages.history(bob, rid)
    assert page["messages"][-2]["text"] == "last words"
    assert await ctx.messages.mark_read(bob, rid, stored) == stored

    view = await ctx.rooms.update(ann, rid, {"archived": False})
    assert view["archived"] is False
    event, created = await ctx.messages.send(bob, rid, "back again")
    assert created and event.seq == stored + 2


async def test_direct_chat_is_found_or_created_idempotently(ctx: Context) -> None:
    ann, bob, carl = await register(ctx, "ann", "bob", "carl")
    chat, created = await ctx.rooms.direct(ann, ["bob"])
    assert created
    assert _pick(chat, "kind", "name", "topic", "visibility", "archived", "member_count",
                 "my_state", "my_role", "last_seq") == {
        "kind": "direct", "name": "", "topic": "", "visibility": "private", "archived": False,
        "member_count": 2, "my_state": "joined", "my_role": "member", "last_seq": 3}
    assert _people(chat) == [ann.public(), bob.public()]

    for user, names in [(bob, ["ann"]), (bob, ["ANN"]), (ann, ["Bob"]), (ann, ["bob", "BOB"]),
                        (ann, ["ann", "bob"])]:
        again, created = await ctx.rooms.direct(user, names)
        assert (again["id"], created) == (chat["id"], False), (user.username, names)
    rows = await log_rows(ctx, chat["id"])
    assert [(r.seq, r.type) for r in rows] == [(1, "room_created"), (2, "member_joined"), (3, "member_joined")]

    group, created = await ctx.rooms.direct(ann, ["bob", "carl"])
    assert created and group["id"] != chat["id"] and group["member_count"] == 3
    again, created = await ctx.rooms.direct(carl, ["Bob", "ann"])
    assert (again["id"], created) == (group["id"], False)
    assert _people(again) == [ann.public(), bob.public(), carl.public()]
    assert _people(await ctx.rooms.get(bob, group["id"])) == _people(again)

    await ctx.accounts.disable("carl")
    for names in ([], ["ann"], ["nobody"], ["bob", "nobody"], "bob", ["carl"], ["bob", "carl"]):
        with pytest.raises(Invalid):
            await ctx.rooms.direct(ann, names)

    assert [r["id"] for r in await ctx.rooms.mine(bob)] == [group["id"], chat["id"]]
    assert await ctx.rooms.public() == []

    # No leaving, inviting, renaming, archiving or joining from outside; the two of them talk.
    rid = chat["id"]
    dave, = await register(ctx, "dave")
    for call in (ctx.rooms.leave(bob, rid), ctx.rooms.invite(ann, rid, ["dave"]),
                 ctx.rooms.update(ann, rid, {"name": "ours"}), ctx.rooms.update(ann, rid, {"archived": True})):
        with pytest.raises(Forbidden):
            await call
    with pytest.raises(NotFound):
        await ctx.rooms.join(dave, rid)
    assert len(await log_rows(ctx, rid)) == 3
    event, _ = await ctx.messages.send(bob, rid, "hi ann")
    assert event.seq == 4
    assert (await ctx.messages.history(ann, rid))["messages"][-1]["text"] == "hi ann"


async def test_group_direct_of_ten_people_and_no_more(ctx: Context) -> None:
    people = await register(ctx, *[f"p{i:02d}" for i in range(11)])
    names = [p.username for p in people]
    chat, created = await ctx.rooms.direct(people[0], names[1:10])
    assert created
    assert (chat["member_count"], len(chat["members"]), chat["last_seq"]) == (10, 10, 11)
    again, created = await ctx.rooms.direct(people[9], [n.upper() for n in reversed(names[:9])])
    assert (again["id"], created) == (chat["id"], False)

    with pytest.raises(Invalid):
        await ctx.rooms.direct(people[0], names[1:11])
    with pytest.raises(Invalid):
        await ctx.rooms.direct(people[10], names[:10])
    assert {r.room_id for r in await log_rows(ctx)} == {chat["id"]}
    assert await message_count(ctx) == 0
    assert len(await whole_history(ctx, people[5], chat["id"])) == 11


async def test_racing_direct_requests_find_one_chat(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    await warm_pool(ctx, ann, (await ctx.rooms.create(ann, "warm-up"))["id"])
    before = len(await log_rows(ctx))
    calls = [ctx.rooms.direct(ann, ["bob"]) if i % 2 else ctx.rooms.direct(bob, ["ann"]) for i in range(6)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, tuple) for r in results), [type(r).__name__ for r in results]
    assert len({view["id"] for view, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(await log_rows(ctx)) == before + 3


async def test_mentions_count_unread_messages_naming_me(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    lobby = await ctx.rooms.create(ann, "lobby")
    await ctx.rooms.join(bob, lobby["id"])
    await ctx.messages.send(ann, lobby["id"], "@BOB are you there?")  # case is ignored
    await ctx.messages.send(ann, lobby["id"], "no mention here")
    await ctx.messages.send(ann, lobby["id"], "100% sure, @bob_ is someone else? no: @bob")
    await ctx.messages.send(bob, lobby["id"], "@bob talking to myself")  # own messages never count
    view = await ctx.rooms.get(bob, lobby["id"])
    assert (view["unread"], view["mentions"]) == (3, 2)
    listed = [r for r in await ctx.rooms.mine(bob) if r["id"] == lobby["id"]][0]
    assert (listed["unread"], listed["mentions"]) == (3, 2)
    await ctx.messages.mark_read(bob, lobby["id"], view["last_seq"])
    view = await ctx.rooms.get(bob, lobby["id"])
    assert (view["unread"], view["mentions"]) == (0, 0)
    secret = await ctx.rooms.create(ann, "secret", visibility="private")
    await ctx.messages.send(ann, secret["id"], "@bob a surprise")
    await ctx.rooms.invite(ann, secret["id"], ["bob"])
    invited = [r for r in await ctx.rooms.mine(bob) if r["id"] == secret["id"]][0]
    assert (invited["my_state"], invited["unread"], invited["mentions"]) == ("invited", None, None)
