"""Calls (issue 13) on SQLite and PostgreSQL: one running call per room, the mesh's limit, who may
call, the room-log events, decline, and the sweep that takes out participants no node has seen."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from parley.core import wire
from parley.store.tables import call_peers
from parley.web.context import Context
from tests.contract.helpers import outcome, register, whole_history


async def test_a_call_from_start_to_end_in_the_room_log(ctx: Context) -> None:
    ann, bob, eve, *more = await register(ctx, "ann", "bob", "eve", *(f"per{i}" for i in range(7)))
    rid = (await ctx.rooms.create(ann, "calls"))["id"]
    for user in (bob, *more):
        await ctx.rooms.join(user, rid)
    call, peer_a = await ctx.calls.start(ann, rid, True)
    again, peer_b = await ctx.calls.start(bob, rid, False)  # a call runs: starting joins it
    assert again.id == call.id and again.answered and peer_a != peer_b
    assert [p.user.id for p in again.participants] == [ann.id, bob.id]
    current = (await ctx.calls.current(bob, rid))["call"]
    msgspec.convert(current, wire.Call)
    assert await outcome(ctx.calls.current(eve, rid)) == "not_found"
    assert await outcome(ctx.calls.join(eve, call.id)) == "not_found"  # not a member
    assert await outcome(ctx.calls.start(eve, rid, True)) == "not_found"

    peers = [(await ctx.calls.join(u, call.id))[1] for u in more[:6]]  # 8 in all
    assert await outcome(ctx.calls.join(more[6], call.id)) == "call_full"
    await ctx.calls.leave(more[0], call.id, [peers[0]])
    _, taken = await ctx.calls.join(more[6], call.id)  # a place was freed
    # A reconnect takes my participant over again; someone else's is not mine to take.
    assert (await ctx.calls.join(ann, call.id, peer_a))[1] == peer_a
    await ctx.calls.leave(more[2], call.id, [peers[2]])
    _, second = await ctx.calls.join(more[1], call.id, peer_a)  # ann's id: more[1] gets a new one
    assert second not in (peer_a, peers[1])
    in_call = [(more[1], peers[1]), (more[1], second), *zip(more[3:6], peers[3:], strict=True), (more[6], taken)]

    await ctx.calls.leave(ann, call.id, [peer_a])
    await ctx.calls.leave(bob, call.id, [peer_b])
    for user, peer in in_call:
        await ctx.calls.leave(user, call.id, [peer])
    assert (await ctx.calls.current(bob, rid))["call"] is None
    events = [e for e in await whole_history(ctx, bob, rid) if e["type"].startswith("call_")]
    assert [e["type"] for e in events] == ["call_started", "call_ended"]
    started, ended = events
    assert started["call"] == call.id and started["video"] is True and started["sender"]["id"] == ann.id
    assert ended["by"] is None and ended["missed"] is False and ended["duration_ms"] >= 0
    assert [p["id"] for p in ended["participants"]][:2] == [ann.id, bob.id]
    assert len(ended["participants"]) == 9
    assert await outcome(ctx.calls.join(bob, call.id)) == "not_found"  # it ended


async def test_who_may_call_and_end(ctx: Context) -> None:
    own, ann, bob = await register(ctx, "own", "ann", "bob")
    rid = (await ctx.rooms.create(own, "strict"))["id"]
    for user in (ann, bob):
        await ctx.rooms.join(user, rid)
    await ctx.moderation.mute(own, rid, bob.id, 600)
    assert await outcome(ctx.calls.start(bob, rid, True)) == "muted"
    call, _ = await ctx.calls.start(ann, rid, True)
    assert await outcome(ctx.calls.join(bob, call.id)) == "muted"
    assert await outcome(ctx.calls.end(bob, call.id, False)) == "conflict"  # not in it, not a moderator
    await ctx.calls.end(own, call.id, False)  # the owner ends it for everyone
    events = [e for e in await whole_history(ctx, ann, rid) if e["type"] == "call_ended"]
    assert events[-1]["by"]["id"] == own.id and events[-1]["missed"] is True


async def test_a_declined_direct_call_and_the_sweep(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    room, _ = await ctx.rooms.direct(ann, [bob.username])
    call, _ = await ctx.calls.start(ann, room["id"], True)
    await ctx.calls.decline(ann, call.id)  # the caller's decline does nothing
    assert (await ctx.calls.current(bob, room["id"]))["call"] is not None
    await ctx.calls.decline(bob, call.id)
    ended = [e for e in await whole_history(ctx, ann, room["id"]) if e["type"] == "call_ended"][-1]
    assert (ended["declined"], ended["missed"], ended["by"]["id"]) == (True, True, bob.id)

    call, peer_a = await ctx.calls.start(ann, room["id"], True)
    _, peer_b = await ctx.calls.join(bob, call.id)
    await ctx.calls.heartbeat([peer_a, peer_b])
    assert await ctx.calls.sweep() == 0
    timeout_ms = int(ctx.calls.settings.timeout_s * 1000)
    async with ctx.db.write() as conn:  # bob's node died: nobody has seen him since
        await conn.execute(sa.update(call_peers).where(call_peers.c.peer == peer_b)
                           .values(seen_at=sa.literal(0) + call_peers.c.seen_at - timeout_ms - 1))
    assert await ctx.calls.sweep() == 1
    left = (await ctx.calls.current(ann, room["id"]))["call"]
    assert [p["peer"] for p in left["participants"]] == [peer_a]
    async with ctx.db.write() as conn:
        await conn.execute(sa.update(call_peers).where(call_peers.c.peer == peer_a)
                           .values(seen_at=call_peers.c.seen_at - timeout_ms - 1))
    assert await ctx.calls.sweep() == 1
    assert (await ctx.calls.current(ann, room["id"]))["call"] is None
    ended = [e for e in await whole_history(ctx, ann, room["id"]) if e["type"] == "call_ended"][-1]
    assert ended["call"] == call.id and ended["by"] is None and ended["missed"] is False



async def test_a_kicked_or_departing_member_is_out_of_the_call_at_once(ctx: Context) -> None:
    own, ann, bob, cat = await register(ctx, "own", "ann", "bob", "cat")
    rid = (await ctx.rooms.create(own, "kicks"))["id"]
    for user in (ann, bob, cat):
        await ctx.rooms.join(user, rid)
    call, _ = await ctx.calls.start(own, rid, True)
    for user in (ann, bob, cat):
        await ctx.calls.join(user, call.id)

    async def in_call() -> list[int]:
        found = (await ctx.calls.current(own, rid))["call"]
        return [p["user"]["id"] for p in found["participants"]]

    assert await in_call() == [own.id, ann.id, bob.id, cat.id]
    await ctx.moderation.kick(own, rid, bob.id, "off topic")
    assert await in_call() == [own.id, ann.id, cat.id]  # no wait for the sweep
    await ctx.moderation.ban(own, rid, cat.id, "spam", None)
    await ctx.rooms.leave(ann, rid)
    assert await in_call() == [own.id]
    assert await outcome(ctx.calls.join(bob, call.id)) == "not_found"  # no longer a member
