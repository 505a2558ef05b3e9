"""The room log has one writer: any event type goes through the send batch's fast path, events written by
the services and by the batch share one gap-free numbering, and one mapper reads back what either wrote."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import orjson

from parley.bus.base import BusMessage, Kind, room_channel
from parley.core.models import Event, EventType, User
from parley.store import events as event_store
from parley.store.events import Draft
from parley.store.messagelog import Snapshot
from parley.web.context import Context
from tests.contract.helpers import log_rows, register, warm_pool, whole_history


def _sample(type_: EventType, person: User, n: int) -> dict[str, Any]:
    """Data of every shape an event may carry: nested objects, lists, nulls, non-ASCII, a
    message's text beside extra fields (the server-resolved mentions, say)."""
    data: dict[str, Any] = {"user": person.public(), "role": "admin", "changes": {"topic": f"ü ☃ 话题 {n}"},
                            "mentions": [person.id], "none": None, "nested": {"a": [1, 2.5, True, "x"]}}
    if type_ is EventType.MESSAGE:
        data["text"] = f"hello @{person.username} {n}"
    return data


async def _batch(ctx: Context, drafts: list[Draft], now: int) -> tuple[Snapshot, list[tuple[int, int]]]:
    """Append drafts through the send batch's writer (raw sqlite3 on its thread / raw asyncpg),
    storing every one of them."""
    snapshot, stored = await ctx.db.messages.append(drafts, lambda _snap: list(range(len(drafts))), now)
    return snapshot, [stored[i] for i in range(len(drafts))]


async def test_any_event_type_goes_through_the_batch_path(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    one = (await ctx.rooms.create(ann, "one"))["id"]
    two = (await ctx.rooms.create(ann, "two"))["id"]
    await ctx.rooms.join(bob, one)
    base = {rid: (await ctx.rooms.get(ann, rid))["last_seq"] for rid in (one, two)}
    now = ctx.messages.deps.clock()
    drafts = [Draft(two, ann.id, EventType.ROOM_UPDATED, {"changes": {"topic": "from the batch"}}),
              Draft(one, ann.id, EventType.MEMBER_UPDATED, {"user": bob.public(), "role": "moderator"}),
              Draft(one, bob.id, EventType.MESSAGE, {"text": "hi @ann", "mentions": [ann.id]}, "m-1"),
              Draft(one, ann.id, EventType.ROOM_UPDATED, {"changes": {"name": "one!"}}, "u-1")]
    _, placed = await _batch(ctx, drafts, now)
    senders = {ann.id: ann.public(), bob.id: bob.public()}
    written = [d.event(eid, seq, now, senders[d.sender_id]) for d, (eid, seq) in zip(drafts, placed, strict=True)]
    assert [(e.room_id, e.seq) for e in written] == [(two, base[two] + 1), (one, base[one] + 1),
                                                     (one, base[one] + 2), (one, base[one] + 3)]

    rows = await log_rows(ctx, one)
    assert [(r.seq, r.type) for r in rows][-3:] == [(base[one] + 1, "member_updated"),
                                                    (base[one] + 2, "message"), (base[one] + 3, "room_updated")]
    assert (await ctx.rooms.get(ann, one))["last_seq"] == base[one] + 3
    history = await whole_history(ctx, bob, one)
    assert history[-3:] == [e.wire() for e in written[1:]]
    assert history[-2]["mentions"] == [ann.id] and history[-2]["text"] == "hi @ann"
    assert (await whole_history(ctx, ann, two))[-1] == written[0].wire()

    # Idempotency holds for any type: the same (room, sender, client_msg_id) is found, not stored again.
    snapshot, _ = await ctx.db.messages.append(drafts[2:], lambda _snap: [], ctx.messages.deps.clock())
    assert snapshot.existing == {(one, bob.id, "m-1"): written[2], (one, ann.id, "u-1"): written[3]}
    # A send repeating the batch's client_msg_id gets the stored event back.
    again, created = await ctx.messages.send(bob, one, "different text", "m-1")
    assert (again.wire(), created) == (written[2].wire(), False)
    assert len(await log_rows(ctx, one)) == len(rows)


async def test_service_and_batch_events_interleave_gap_free_in_one_room(ctx: Context) -> None:
    people = await register(ctx, "owner", *[f"mem{i}" for i in range(8)], *[f"guest{i}" for i in range(4)])
    owner, members, guests = people[0], people[1:9], people[9:]
    rid = (await ctx.rooms.create(owner, "busy"))["id"]
    await asyncio.gather(*(ctx.rooms.join(m, rid) for m in members))
    await warm_pool(ctx, owner, rid)
    base = (await ctx.rooms.get(owner, rid))["last_seq"]
    published: list[tuple[int, dict[str, Any]]] = []

    def capture(_channel: str, msg: BusMessage) -> None:
        if msg.kind is Kind.ROOM_EVENT and msg.room == rid:
            published.append((msg.seq, orjson.loads(msg.payload)))

    await ctx.hub.bus.start(capture)
    ctx.hub.bus.subscribe(room_channel(rid))

    managing, talked, halfway = asyncio.Event(), asyncio.Event(), set()

    async def talk(user: User) -> list[Event]:
        out = []
        for i in range(20):
            if i == 10:  # so that the two writers certainly interleave, whatever the scheduling:
                halfway.add(user.id)  # messages first, then the owner's changes, then messages again
                if len(halfway) == len(members):
                    talked.set()
                await managing.wait()
            out.append((await ctx.messages.send(user, rid, f"{user.username} {i}"))[0])
        return out

    async def manage() -> None:
        """Role changes and topic changes by the owner, one after another: each its own transaction."""
        await talked.wait()
        for i in range(12):
            await ctx.rooms.set_role(owner, rid, members[i % 4].id, "moderator" if i // 4 % 2 == 0 else "member")
            await ctx.rooms.update(owner, rid, {"topic": f"topic {i}"})
            managing.set()

    async def come_and_go(guest: User) -> None:
        for _ in range(3):
            await ctx.rooms.join(guest, rid)
            await ctx.rooms.leave(guest, rid)

    results = await asyncio.gather(*(talk(m) for m in members), manage(), *(come_and_go(g) for g in guests),
                                   ctx.rooms.invite(owner, rid, [f"guest{i}" for i in range(4)]))
    sent = [e for per_user in results[:8] for e in per_user]
    rows = await log_rows(ctx, rid)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    new = rows[base:]
    kinds = Counter(r.type for r in new)
    assert kinds["message"] == len(sent) == 160
    assert kinds["member_updated"] == 12 and kinds["room_updated"] == 12
    assert kinds["member_joined"] == kinds["member_left"] == 12
    # Written by both paths, mixed: service events between messages.
    types = [r.type for r in new]
    first, last = types.index("message"), len(types) - types[::-1].index("message")
    assert {"member_updated", "room_updated"} <= set(types[first:last])
    assert {e.seq: e.data["text"] for e in sent} == {r.seq: r.text for r in new if r.type == "message"}
    history = await whole_history(ctx, owner, rid)
    assert [m["seq"] for m in history] == list(range(1, len(rows) + 1))
    # (The memory bus hands each publish to `capture` before the service call returns.)
    assert sorted(seq for seq, _ in published) == list(range(base + 1, len(rows) + 1))
    assert sorted(published, key=lambda p: p[0]) == [(m["seq"], m) for m in history[base:]]


async def test_one_mapper_round_trips_every_event_type_from_either_writer(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    rid = (await ctx.rooms.create(ann, "all types"))["id"]
    await ctx.rooms.join(bob, rid)
    base = (await ctx.rooms.get(ann, rid))["last_seq"]
    now = ctx.messages.deps.clock()
    # Through the services' writer, inside a transaction of theirs ...
    by_service = [Draft(rid, ann.id, t, _sample(t, bob, 1), f"s-{t.value}") for t in EventType]
    async with ctx.db.write() as conn:
        placed = await event_store.append(conn, by_service, now)
    # ... and through the send batch's.
    by_batch = [Draft(rid, bob.id, t, _sample(t, ann, 2), f"b-{t.value}") for t in EventType]
    _, placed_b = await _batch(ctx, by_batch, now)
    senders = {ann.id: ann.public(), bob.id: bob.public()}
    written = [d.event(eid, seq, now, senders[d.sender_id])
               for d, (eid, seq) in zip(by_service + by_batch, placed + placed_b, strict=True)]
    assert [e.seq for e in written] == list(range(base + 1, base + 1 + 2 * len(EventType)))

    async with ctx.db.read() as conn:  # the reader of history and replay
        assert await event_store.after(conn, rid, base, 100) == written
        assert await event_store.before(conn, rid, None, len(written)) == written
    assert await ctx.messages.replay(rid, base) == written
    snapshot, _ = await ctx.db.messages.append(by_service + by_batch, lambda _snap: [], now)  # the batch's reader
    assert snapshot.existing == {(e.room_id, e.sender["id"], e.client_msg_id): e for e in written if e.sender}
    assert [e.data for e in written] == [d.data for d in by_service + by_batch]  # nothing lost or added


async def test_a_refused_batch_entry_of_any_type_stores_nothing(ctx: Context) -> None:
    ann, carl = await register(ctx, "ann", "carl")
    rid = (await ctx.rooms.create(ann, "r"))["id"]
    base = len(await log_rows(ctx, rid))
    drafts = [Draft(rid, carl.id, EventType.ROOM_UPDATED, {"changes": {"topic": "no"}}),
              Draft(rid, ann.id, EventType.MESSAGE, {"text": "yes"})]
    # The decision (services' rules) keeps only the second; the writer stores only what it is given.
    _, stored = await ctx.db.messages.append(drafts, lambda _snap: [1], ctx.messages.deps.clock())
    assert list(stored) == [1] and stored[1][1] == base + 1
    assert [(r.seq, r.type, r.text) for r in (await log_rows(ctx, rid))[base:]] == [(base + 1, "message", "yes")]
