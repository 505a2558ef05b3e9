"""History pages (issue 14) on SQLite and PostgreSQL: the hand-written reads of store/history.py
answer exactly what the SQLAlchemy reads answered before them (`_reference` below, the previous
`Messages.history`), for a room with every kind of decoration, for each kind of reader."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from parley.core import permissions
from parley.core.errors import Invalid
from parley.core.models import MemberState, User
from parley.services.messages import HISTORY_MAX, _former
from parley.store import actions as action_store
from parley.store import events as event_store
from parley.store import rooms as room_store
from parley.store.tables import users
from parley.web.context import Context
from tests.contract.helpers import chunks, media_context, outcome, register


@pytest.fixture
async def ctx(database_url: str, tmp_path: Path) -> AsyncIterator[Context]:
    async with media_context(database_url, tmp_path) as context:
        yield context


async def _reference(ctx: Context, user: User, room_id: int, *, before: int | None = None, after: int | None = None,
                     around: int | None = None, limit: int = 50) -> dict[str, Any]:
    """The previous `Messages.history`, statement for statement: the specification of the fast path."""
    if sum(x is not None for x in (before, after, around)) > 1:
        raise Invalid("give one of before, after and around")
    limit = max(1, min(limit, HISTORY_MAX))
    async with ctx.db.read() as conn:
        room = await room_store.get(conn, room_id)
        membership = await room_store.membership(conn, room_id, user.id)
        left = (await room_store.left_seq(conn, room_id, user.id)
                if membership is not None and membership.state is MemberState.LEFT else 0)
        room, upto = permissions.require_history(room, membership, left)
        if around is not None:
            seq = around if upto is None else min(around, upto)
            older = await event_store.before(conn, room.id, seq, limit + 1)
            newer = await event_store.after(conn, room.id, seq - 1, limit + 1, upto)
            n_old = min(len(older), max(limit // 2, limit - len(newer)))
            n_new = min(len(newer), limit - n_old)
            views = [e.wire() for e in older[len(older) - n_old:] + newer[:n_new]]
            if upto is None:  # decorated as every other page (a jump from search or a reply)
                await action_store.decorate(conn, room_id, user.id, views)
            page = {"messages": views,
                    "has_more": len(older) > n_old, "has_more_after": len(newer) > n_new, "last_seq": room.last_seq}
            return _former(page, room, membership, upto)
        if after is not None:
            found = await event_store.after(conn, room_id, after, limit + 1, upto)
            has_more, found = len(found) > limit, found[:limit]
        else:
            if upto is not None:
                before = upto + 1 if before is None else min(before, upto + 1)
            found = await event_store.before(conn, room_id, before, limit + 1)
            has_more, found = len(found) > limit, found[-limit:]
        views = [e.wire() for e in found]
        if upto is None:
            await action_store.decorate(conn, room_id, user.id, views)
    return _former({"messages": views, "has_more": has_more, "last_seq": room.last_seq}, room, membership, upto)


async def _decorated_room(ctx: Context) -> tuple[int, dict[str, User]]:
    """A room whose log holds every kind of message and decoration; returns it and its people."""
    ann, bob, cat, dan, eve = await register(ctx, "ann", "bob", "cat", "dan", "eve")
    _, token = await ctx.bots.create(ann, "pingbot", "Ping Bot")
    bot, _ = await ctx.accounts.authenticate(token)
    async with ctx.db.write() as conn:  # an avatar, for avatar_url in senders and reply previews
        await conn.execute(users.update().where(users.c.id == bob.id).values(avatar="f" * 64))
    rid = (await ctx.rooms.create(ann, "history"))["id"]
    for user in (bob, cat, dan, eve):
        await ctx.rooms.join(user, rid)
    await ctx.bots.add_to_room(ann, rid, bot.id)
    send = ctx.messages.send
    upload = await ctx.uploads.receive(ann, rid, "notes.txt", chunks(b"some notes"))
    with_file, _ = await send(ann, rid, "see the file", attachments=[upload.id])
    plain, _ = await send(bob, rid, "hello @ann and @room")  # mentions; @room from a member: not set
    loud, _ = await send(ann, rid, "@room listen")  # the owner's @room: mentions_room
    root, _ = await send(cat, rid, "a thread starts")
    for i in range(3):
        await send([bob, dan, cat][i], rid, f"in the thread {i}", thread_root=root.seq)
    reply, _ = await send(dan, rid, "answering", reply_to=plain.seq)
    gone, _ = await send(bob, rid, "soon deleted")
    await send(cat, rid, "to the deleted one", reply_to=gone.seq)
    await ctx.actions.delete(bob, rid, gone.seq)
    await ctx.actions.edit(ann, rid, loud.seq, "@room listen again")
    await send(bot, rid, "beep from a bot", client_msg_id="bot-1")
    for user, glyph in ((ann, "👍"), (bob, "👍"), (bob, "🎉"), (cat, "❤️")):
        await ctx.actions.react(user, rid, plain.seq, glyph)
    await ctx.actions.react(ann, rid, reply.seq, "🎉")
    await ctx.actions.pin(ann, rid, plain.seq)
    await ctx.actions.pin(ann, rid, with_file.seq)
    for i in range(12):
        await send(bob if i % 2 else ann, rid, f"filler {i}")
    await ctx.rooms.leave(dan, rid)  # reads up to here, undecorated
    await send(ann, rid, "after dan left")
    await ctx.moderation.kick(ann, rid, eve.id)  # reads nothing any more
    await send(ann, rid, "the last one")
    return rid, {"ann": ann, "bob": bob, "cat": cat, "dan": dan, "eve": eve, "bot": bot}


async def test_fast_path_answers_as_the_previous_reads(ctx: Context) -> None:
    rid, people = await _decorated_room(ctx)
    last = (await ctx.rooms.get(people["ann"], rid))["last_seq"]
    page = await ctx.messages.history(people["ann"], rid)
    kinds = {k for m in page["messages"] for k in m}
    assert {"reactions", "pinned", "thread", "reply", "attachments", "edited_at", "deleted", "mentions_room",
            "reply_to", "thread_root"} <= kinds  # the room has every decoration
    assert any(m["type"] != "message" for m in page["messages"])
    assert any((m["sender"] or {}).get("bot") for m in page["messages"])
    assert any((m["sender"] or {}).get("avatar_url") for m in page["messages"])
    assert any(m.get("reply", {}).get("deleted") for m in page["messages"])
    asks: list[dict[str, Any]] = [{}, {"limit": 5}, {"limit": 1}, {"limit": 500}]
    for seq in (1, 2, 7, 12, 20, last - 1, last, last + 5):
        asks += [{"before": seq, "limit": 6}, {"after": seq, "limit": 6}, {"around": seq, "limit": 7},
                 {"around": seq, "limit": 2}, {"after": seq}]
    for name in ("ann", "bob", "dan", "bot"):
        for ask in asks:
            want = await _reference(ctx, people[name], rid, **ask)
            got = await ctx.messages.history(people[name], rid, **ask)
            assert got == want, (name, ask)
            assert orjson.dumps(got) == orjson.dumps(want), (name, ask)  # keys in the same order: the same bytes
    former = await ctx.messages.history(people["dan"], rid)
    assert former["former"]["left_seq"] < last and "reactions" not in str(former["messages"])


async def test_refusals_are_the_previous_ones(ctx: Context) -> None:
    rid, people = await _decorated_room(ctx)
    stranger = (await register(ctx, "stranger"))[0]
    for user, room_id in ((people["eve"], rid), (stranger, rid), (people["ann"], rid + 1000)):
        assert await outcome(ctx.messages.history(user, room_id)) == "not_found"
        assert await outcome(_reference(ctx, user, room_id)) == "not_found"
    assert await outcome(ctx.messages.history(people["ann"], rid, before=3, after=1)) == "invalid"
