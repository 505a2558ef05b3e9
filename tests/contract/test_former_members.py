"""A member who left a room reads its history, read-only, up to their leave and never after
(issue 10: what search finds there opens in context); a kick or a ban takes that away, someone who
never joined sees no room. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from parley.core.errors import NotFound
from parley.core.models import User
from parley.web.context import Context
from tests.contract.helpers import register


async def _send(ctx: Context, user: User, room: int, *texts: str) -> list[int]:
    return [(await ctx.messages.send(user, room, t))[0].seq for t in texts]


def _texts(page: dict[str, Any]) -> list[str]:
    return [m["text"] for m in page["messages"] if m["type"] == "message"]


async def _hits(ctx: Context, user: User, q: str) -> list[str]:
    return [h["message"]["text"] for h in (await ctx.search.search(user, q))["hits"]]


async def test_a_former_member_reads_up_to_the_leave_never_after(ctx: Context) -> None:
    ann, bob, eve = await register(ctx, "ann", "bob", "eve")
    room = (await ctx.rooms.create(ann, "open"))["id"]
    await ctx.rooms.join(bob, room)
    first, second = await _send(ctx, ann, room, "zebra one", "zebra two")
    await ctx.rooms.leave(bob, room)
    (later,) = await _send(ctx, ann, room, "zebra after leaving")
    left = later - 1  # bob's member_left

    page = await ctx.messages.history(bob, room)
    assert _texts(page) == ["zebra one", "zebra two"]
    assert page["messages"][-1]["type"] == "member_left" and page["messages"][-1]["seq"] == left
    assert page["last_seq"] == left and page["has_more"] is False
    assert page["former"] == {"left_seq": left, "name": "open", "kind": "room", "can_join": True}
    assert max(m["seq"] for m in page["messages"]) == left
    # Every way of asking stops at the leave: after, before beyond it, around a later message.
    assert [m["seq"] for m in (await ctx.messages.history(bob, room, after=first))["messages"]] == [second, left]
    assert (await ctx.messages.history(bob, room, after=left))["messages"] == []
    beyond = await ctx.messages.history(bob, room, before=later + 10)
    assert max(m["seq"] for m in beyond["messages"]) == left
    around = await ctx.messages.history(bob, room, around=later)
    assert max(m["seq"] for m in around["messages"]) == left and around["has_more_after"] is False
    around = await ctx.messages.history(bob, room, around=first, limit=2)
    assert [m["seq"] for m in around["messages"]] == [first - 1, first] and around["has_more_after"] is True
    # Search agrees with history.
    assert await _hits(ctx, bob, "zebra") == ["zebra two", "zebra one"]
    # The members still read everything, without `former`.
    full = await ctx.messages.history(ann, room)
    assert _texts(full)[-1] == "zebra after leaving" and "former" not in full
    # Never a member: no room, whatever the parameters.
    for kw in ({}, {"around": first}, {"after": 0}, {"before": later}):
        with pytest.raises(NotFound):
            await ctx.messages.history(eve, room, **kw)
    # Joining again opens the whole room again.
    await ctx.rooms.join(bob, room)
    again = await ctx.messages.history(bob, room)
    assert "zebra after leaving" in _texts(again) and "former" not in again


async def test_private_room_left_reads_up_to_the_leave_without_a_join_offer(ctx: Context) -> None:
    ann, bob, eve = await register(ctx, "ann", "bob", "eve")
    room = (await ctx.rooms.create(ann, "secret", visibility="private"))["id"]
    await ctx.rooms.invite(ann, room, ["bob", "eve"])
    await ctx.rooms.join(bob, room)
    await _send(ctx, ann, room, "private before")
    await ctx.rooms.leave(bob, room)
    await ctx.rooms.leave(eve, room)  # an invitation declined: never a member
    await _send(ctx, ann, room, "private after")
    page = await ctx.messages.history(bob, room)
    assert _texts(page) == ["private before"] and page["former"]["can_join"] is False
    with pytest.raises(NotFound):
        await ctx.messages.history(eve, room)


async def test_a_kick_or_a_ban_takes_reading_away(ctx: Context) -> None:
    ann, bob, cat, dan = await register(ctx, "ann", "bob", "cat", "dan")
    room = (await ctx.rooms.create(ann, "open"))["id"]
    for user in (bob, cat, dan):
        await ctx.rooms.join(user, room)
    await _send(ctx, ann, room, "zebra before")
    await ctx.moderation.kick(ann, room, bob.id)
    await ctx.moderation.ban(ann, room, cat.id)
    await ctx.rooms.leave(dan, room)
    await ctx.moderation.ban(ann, room, dan.id)  # banned after leaving: reading goes too
    await _send(ctx, ann, room, "zebra after")
    for banned in (bob, cat, dan):  # bob kicked, cat banned, dan banned after leaving
        with pytest.raises(NotFound):
            await ctx.messages.history(banned, room)
        with pytest.raises(NotFound):
            await ctx.messages.history(banned, room, around=1)
        assert await _hits(ctx, banned, "zebra") == []
    # Lifting the ban gives back the room to join, not the history: nothing until they join again.
    await ctx.moderation.unban(ann, room, cat.id)
    with pytest.raises(NotFound):
        await ctx.messages.history(cat, room)
    await ctx.rooms.join(cat, room)
    assert _texts(await ctx.messages.history(cat, room)) == ["zebra before", "zebra after"]


async def test_migration_0014_ends_reading_for_the_bans_in_force(database_url: str) -> None:
    """Members who left and are banned now, or were kicked, lose what they could read; an ended ban
    after a leave changes nothing."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from parley.store import migrate
    from parley.store.db import async_url
    from tests.contract.helpers import close_context, open_context

    await migrate.upgrade(database_url, "0012")
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.begin() as conn:
            for uid, name in ((1, "ann"), (2, "bob"), (3, "cat"), (4, "dan")):
                await conn.execute(sa.text(
                    "INSERT INTO users (id, username, username_lower, display_name, password_hash, is_admin, disabled, "
                    "created_at) VALUES (:i, :n, :n, :n, 'x', false, false, 0)"), {"i": uid, "n": name})
            await conn.execute(sa.text("INSERT INTO rooms (id, kind, name, topic, visibility, archived, created_at, "
                                       "creator_id, last_seq) VALUES (1, 'room', 'old', '', 'public', false, 0, 1, 4)"))
            for uid, state, left in ((1, "joined", 0), (2, "left", 2), (3, "left", 3), (4, "left", 4)):
                await conn.execute(sa.text(
                    "INSERT INTO members (room_id, user_id, role, state, read_seq, joined_seq, updated_at, left_seq) "
                    "VALUES (1, :u, 10, :s, 0, 0, 0, :l)"), {"u": uid, "s": state, "l": left})
            for seq, kind, sender, text in ((1, "message", 1, "old words"), (2, "message", 1, "two"),
                                             (3, "message", 1, "three"), (4, "member_kicked", 1, None)):
                await conn.execute(sa.text("INSERT INTO events (room_id, seq, type, sender_id, ts, text) "
                                           "VALUES (1, :seq, :t, :s, 0, :x)"), {"seq": seq, "t": kind, "s": sender, "x": text})
            # bob: banned for good; cat: a ban that ended in 2001
            await conn.execute(sa.text("INSERT INTO room_bans (room_id, user_id, by, reason, until, created_at) "
                                       "VALUES (1, 2, 1, '', NULL, 0), (1, 3, 1, '', 1000000000000, 0)"))
    finally:
        await engine.dispose()
    ctx = await open_context(database_url)  # upgrades to head
    try:
        bob = User(2, "bob", "bob", False, False, 0)
        cat = User(3, "cat", "cat", False, False, 0)
        dan = User(4, "dan", "dan", False, False, 0)  # kicked
        for gone in (bob, dan):
            with pytest.raises(NotFound):
                await ctx.messages.history(gone, 1)
        assert _texts(await ctx.messages.history(cat, 1)) == ["old words", "two", "three"]
    finally:
        await close_context(ctx)
