"""Messages: dense per-room seqs under concurrency, idempotent retries, history, replay, read markers."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable

import orjson
import pytest

from parley.bus.base import BusMessage, Kind, room_channel
from parley.core.errors import Invalid, NotFound, ParleyError
from parley.core.models import Event, User
from parley.web.context import Context
from tests.contract.helpers import (
    close_context,
    log_rows,
    message_count,
    open_context,
    register,
    whole_history,
)


async def _room_with(ctx: Context, owner: User, others: list[User], name: str = "room") -> int:
    rid = (await ctx.rooms.create(owner, name))["id"]
    await asyncio.gather(*(ctx.rooms.join(user, rid) for user in others))
    return rid


async def _last_seq(ctx: Context, user: User, rid: int) -> int:
    return (await ctx.rooms.get(user, rid))["last_seq"]


async def test_concurrent_senders_get_dense_unique_seqs_in_every_room(ctx: Context) -> None:
    users = await register(ctx, *[f"s{i:02d}" for i in range(20)])
    main = await _room_with(ctx, users[0], users[1:], "main")
    base = await _last_seq(ctx, users[0], main)

    # 20 users each send 25 messages one after another, all at once: one room, many small batches.
    async def talk(user: User) -> list[tuple[Event, bool]]:
        return [await ctx.messages.send(user, main, f"{user.username}:{i}") for i in range(25)]

    results = await asyncio.gather(*(talk(u) for u in users))
    sent = [pair for per_user in results for pair in per_user]
    assert all(created for _, created in sent)
    assert sorted(e.seq for e, _ in sent) == list(range(base + 1, base + 501))
    assert len({e.id for e, _ in sent}) == 500
    for per_user in results:  # one sender's messages keep their order
        seqs = [e.seq for e, _ in per_user]
        assert seqs == sorted(seqs)
    rows = await log_rows(ctx, main)
    assert [r.seq for r in rows] == list(range(1, base + 501))
    stored = {r.id: (r.seq, r.sender_id, r.text) for r in rows if r.type == "message"}
    assert stored == {e.id: (e.seq, e.sender["id"], e.data["text"]) for e, _ in sent}
    assert await _last_seq(ctx, users[0], main) == base + 500
    assert [m["seq"] for m in await whole_history(ctx, users[7], main)] == list(range(1, base + 501))

    # Then 600 sends at once over four rooms (more than one batch: batch_max is 500), watched on the bus.
    groups = [users[:10], users[10:], [users[1], *users[3::2]]]
    side = await asyncio.gather(*(_room_with(ctx, g[0], g[1:], f"side{k}") for k, g in enumerate(groups)))
    rooms = [main, *side]
    where = {u.id: [main, *(rid for rid, g in zip(side, groups, strict=True) if u in g)] for u in users}
    base = {rid: (await log_rows(ctx, rid))[-1].seq for rid in rooms}
    published: dict[int, list[tuple[int, dict]]] = defaultdict(list)

    def capture(channel: str, msg: BusMessage) -> None:
        if msg.kind is Kind.ROOM_EVENT:
            published[msg.room].append((msg.seq, orjson.loads(msg.payload)))

    await ctx.hub.bus.start(capture)
    for rid in rooms:
        ctx.hub.bus.subscribe(room_channel(rid))
    calls = [ctx.messages.send(u, where[u.id][i % len(where[u.id])], f"{u.username}/{i}")
             for i in range(30) for u in users]
    sent = await asyncio.gather(*calls)
    assert all(created for _, created in sent)
    by_room: dict[int, list[Event]] = defaultdict(list)
    for event, _ in sent:
        by_room[event.room_id].append(event)
    assert sum(len(v) for v in by_room.values()) == 600 and len(by_room) == 4

    for _ in range(100):
        if sum(len(v) for v in published.values()) == 600:
            break
        await asyncio.sleep(0.05)
    for rid in rooms:
        count = len(by_room[rid])
        assert sorted(e.seq for e in by_room[rid]) == list(range(base[rid] + 1, base[rid] + count + 1))
        rows = await log_rows(ctx, rid)
        assert [r.seq for r in rows] == list(range(1, base[rid] + count + 1))
        new_texts = sorted(r.text for r in rows[base[rid]:])
        assert new_texts == sorted(e.data["text"] for e in by_room[rid])
        # Published once each, in seq order, in the stored wire form.
        history = {e.seq: e.wire() for e in await ctx.messages.replay(rid, base[rid], 1000)}
        assert [seq for seq, _ in published[rid]] == list(range(base[rid] + 1, base[rid] + count + 1))
        assert all(body == history[seq] for seq, body in published[rid])
    assert await message_count(ctx) == 1100


async def test_a_resent_client_msg_id_returns_the_original_and_stores_nothing(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    rid = await _room_with(ctx, ann, [bob])
    first, created = await ctx.messages.send(ann, rid, "first", "c-1")
    assert created and first.client_msg_id == "c-1"
    assert first.wire()["client_msg_id"] == "c-1"

    again, created = await ctx.messages.send(ann, rid, "changed text", "c-1")
    assert created is False
    assert again.wire() == first.wire()
    await ctx.messages.send(bob, rid, "in between")
    again, created = await ctx.messages.send(ann, rid, "first", "c-1")
    assert (again.wire(), created) == (first.wire(), False)
    assert await message_count(ctx) == 2
    assert await _last_seq(ctx, ann, rid) == first.seq + 1

    # ... also after a restart: a new process on the same database.
    other = await open_context(ctx.settings.database_url)
    try:
        again, created = await other.messages.send(ann, rid, "first", "c-1")
        assert (again.wire(), created) == (first.wire(), False)
    finally:
        await close_context(other)
    assert await message_count(ctx) == 2


async def test_concurrent_copies_of_one_client_msg_id_store_one_message(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    rid = await _room_with(ctx, ann, [bob])
    base = await _last_seq(ctx, ann, rid)

    # All in one batch ...
    results = await asyncio.gather(*(ctx.messages.send(ann, rid, f"copy {i}", "same") for i in range(10)),
                                   ctx.messages.send(bob, rid, "bob's", "same"))
    anns, (bobs, bob_created) = results[:10], results[10]
    assert sum(created for _, created in anns) == 1
    assert len({e.wire()["id"] for e, _ in anns}) == 1 and {e.seq for e, _ in anns} <= {base + 1, base + 2}
    original = next(e for e, created in anns if created)
    assert all(e.wire() == original.wire() for e, _ in anns)
    assert bob_created and bobs.id != original.id

    # ... and spread over several batches, while other messages flow.
    async def late(i: int) -> tuple[Event, bool]:
        await asyncio.sleep(0.002 * (i % 5))
        return await ctx.messages.send(bob, rid, f"retry {i}", "spread")

    spread = await asyncio.gather(*(late(i) for i in range(10)),
                                  *(ctx.messages.send(ann, rid, f"other {i}") for i in range(10)))
    retries = spread[:10]
    assert sum(created for _, created in retries) == 1
    assert len({e.id for e, _ in retries}) == 1
    assert await message_count(ctx) == 2 + 1 + 10
    rows = await log_rows(ctx, rid)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert sorted(r.client_msg_id for r in rows if r.client_msg_id) == ["same", "same", "spread"]


async def test_two_nodes_racing_one_client_msg_id_store_one_message(ctx: Context) -> None:
    """Two servers on one database (two service stacks): the same retry reaching both at once is stored
    once, and the other messages of the losing batch are still stored."""
    ann, bob = await register(ctx, "ann", "bob")
    rid = await _room_with(ctx, ann, [bob])
    other = await open_context(ctx.settings.database_url)
    try:
        for node in (ctx, other):
            await asyncio.gather(*(node.rooms.get(ann, rid) for _ in range(4)))
        for round_ in range(3):
            cmid = f"retry-{round_}"
            results = await asyncio.gather(
                ctx.messages.send(ann, rid, "from node one", cmid), other.messages.send(ann, rid, "from node two", cmid),
                *(node.messages.send(bob, rid, f"{round_}/{i}") for i in range(4) for node in (ctx, other)))
            copies, rest = results[:2], results[2:]
            assert sum(created for _, created in copies) == 1
            assert copies[0][0].wire() == copies[1][0].wire()
            assert all(created for _, created in rest)
        rows = await log_rows(ctx, rid)
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        assert sorted(r.client_msg_id for r in rows if r.client_msg_id) == ["retry-0", "retry-1", "retry-2"]
        assert await message_count(ctx) == 3 * (1 + 8)
    finally:
        await close_context(other)


async def test_a_client_msg_id_is_per_room_and_per_sender(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    one = await _room_with(ctx, ann, [bob], "one")
    two = await _room_with(ctx, ann, [bob], "two")
    a1, c1 = await ctx.messages.send(ann, one, "a in one", "k")
    a2, c2 = await ctx.messages.send(ann, two, "a in two", "k")
    b1, c3 = await ctx.messages.send(bob, one, "b in one", "k")
    assert c1 and c2 and c3
    assert len({a1.id, a2.id, b1.id}) == 3
    assert (a2.seq, b1.seq) == (a1.seq, a1.seq + 1) or a2.room_id != a1.room_id
    assert (await ctx.messages.send(ann, one, "x", "k"))[0].wire() == a1.wire()
    assert (await ctx.messages.send(ann, two, "x", "k"))[0].wire() == a2.wire()
    assert (await ctx.messages.send(bob, one, "x", "k"))[0].wire() == b1.wire()
    for bad in ("", "x" * 65, 17, ["k"]):
        with pytest.raises(Invalid):
            await ctx.messages.send(ann, one, "bad id", bad)
    assert (await ctx.messages.send(ann, one, "long id", "y" * 64))[1] is True
    assert await message_count(ctx) == 4


async def test_non_members_cannot_send_and_do_not_disturb_a_batch(ctx: Context) -> None:
    ann, bob, carl = await register(ctx, "ann", "bob", "carl")
    rid = await _room_with(ctx, ann, [bob])
    staff = (await ctx.rooms.create(ann, "staff", visibility="private"))["id"]
    messages = set()
    for room in (rid, staff, 987654):
        with pytest.raises(NotFound) as caught:
            await ctx.messages.send(carl, room, "let me in")
        messages.add(caught.value.message)
    assert len(messages) == 1  # a private room looks like no room at all

    base = await _last_seq(ctx, ann, rid)
    results = await asyncio.gather(ctx.messages.send(ann, rid, "a1"), ctx.messages.send(carl, rid, "c1"),
                                   ctx.messages.send(bob, rid, "b1"), ctx.messages.send(carl, staff, "c2"),
                                   ctx.messages.send(ann, rid, "a2"), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["tuple", "NotFound", "tuple", "NotFound", "tuple"]
    assert sorted(r[0].seq for r in results if isinstance(r, tuple)) == [base + 1, base + 2, base + 3]

    await ctx.rooms.leave(bob, rid)
    with pytest.raises(NotFound):
        await ctx.messages.send(bob, rid, "gone")
    rows = await log_rows(ctx)
    assert carl.id not in {r.sender_id for r in rows}
    assert sorted(r.text for r in rows if r.type == "message") == ["a1", "a2", "b1"]


async def test_history_pages_and_replay(ctx: Context) -> None:
    (ann,) = await register(ctx, "ann")
    rid = (await ctx.rooms.create(ann, "long"))["id"]
    sent = await asyncio.gather(*(ctx.messages.send(ann, rid, f"m{i}", f"id-{i}") for i in range(250)))
    texts = {e.seq: e.data["text"] for e, _ in sent}
    assert sorted(texts) == list(range(3, 253))

    async def page(**kw: int) -> tuple[list[int], bool]:
        out = await ctx.messages.history(ann, rid, **kw)
        assert out["last_seq"] == 252
        for m in out["messages"]:
            if m["type"] == "message":
                assert m["text"] == texts[m["seq"]]
        return [m["seq"] for m in out["messages"]], out["has_more"]

    assert await page() == (list(range(203, 253)), True)
    assert await page(limit=100) == (list(range(153, 253)), True)
    assert await page(limit=1000) == (list(range(153, 253)), True)
    assert await page(limit=0) == ([252], True)
    assert await page(limit=-5) == ([252], True)
    assert await page(before=153, limit=100) == (list(range(53, 153)), True)
    assert await page(before=53, limit=100) == (list(range(1, 53)), False)
    assert await page(before=3, limit=1) == ([2], True)
    assert await page(before=2, limit=1) == ([1], False)
    assert await page(before=1) == ([], False)
    assert await page(before=10**9, limit=2) == ([251, 252], True)
    assert await page(after=0, limit=100) == (list(range(1, 101)), True)
    assert await page(after=152, limit=100) == (list(range(153, 253)), False)
    assert await page(after=200) == (list(range(201, 251)), True)
    assert await page(after=202) == (list(range(203, 253)), False)
    assert await page(after=252) == ([], False)
    with pytest.raises(Invalid):
        await ctx.messages.history(ann, rid, before=10, after=5)

    message = (await ctx.messages.history(ann, rid, limit=1))["messages"][0]
    assert set(message) == {"type", "room", "seq", "id", "ts", "sender", "text", "client_msg_id", "mentions"}
    assert (message["type"], message["room"], message["sender"], message["client_msg_id"]) == (
        "message", rid, ann.public(), "id-249")

    # The hub's replay: events after a cursor, as stored.
    everything = await ctx.messages.replay(rid, 0)
    assert [e.seq for e in everything] == list(range(1, 253))
    assert [e.wire() for e in everything] == await whole_history(ctx, ann, rid)
    assert [e.seq for e in await ctx.messages.replay(rid, 250)] == [251, 252]
    assert [e.seq for e in await ctx.messages.replay(rid, 10, 5)] == [11, 12, 13, 14, 15]
    assert [e.data["text"] for e in await ctx.messages.replay(rid, 100, 3)] == [texts[101], texts[102], texts[103]]
    assert await ctx.messages.replay(rid, 252) == []
    assert await ctx.messages.replay(987654, 0) == []


async def test_read_markers_only_move_forward_and_unread_and_mentions_follow(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bo_b")
    rid = await _room_with(ctx, ann, [bob])
    texts = ["n0 hi @BO_B", "n1", "n2 @boxb is someone else", "n3 (@bo_b.)", "n4 mail bo_b@example.org"]
    sent = [(await ctx.messages.send(ann, rid, text))[0] for text in texts]

    async def unread(user: User) -> tuple[int, int, int]:
        """(unread, mentions, read_seq), the same in rooms.get and rooms.mine."""
        view = await ctx.rooms.get(user, rid)
        listed = next(r for r in await ctx.rooms.mine(user) if r["id"] == rid)
        assert counts(listed) == counts(view)
        return counts(view)

    def counts(view: dict) -> tuple[int, int, int]:
        return view["unread"], view["mentions"], view["read_seq"]

    assert await unread(bob) == (5, 2, 3)  # '@bo_b' in any case; '_' is no wildcard
    assert await unread(ann) == (0, 0, 2)  # own messages are never unread
    assert await ctx.messages.mark_read(bob, rid, sent[2].seq) == sent[2].seq
    assert await unread(bob) == (2, 1, sent[2].seq)
    assert await ctx.messages.mark_read(bob, rid, sent[0].seq) == sent[2].seq  # never backwards
    assert await ctx.messages.mark_read(bob, rid, 0) == sent[2].seq
    assert await unread(bob) == (2, 1, sent[2].seq)

    await ctx.messages.send(bob, rid, "my own, to @bo_b and @ANN")
    assert await unread(bob) == (2, 1, sent[2].seq)
    assert await unread(ann) == (1, 1, 2)
    last = await _last_seq(ctx, bob, rid)
    assert await ctx.messages.mark_read(bob, rid, 10**9) == last  # capped at the end of the log
    assert await unread(bob) == (0, 0, last)
    await ctx.messages.send(ann, rid, "one more")
    assert await unread(bob) == (1, 0, last)

    for bad in (-1, "3", 1.5, True, None):
        with pytest.raises(Invalid):
            await ctx.messages.mark_read(bob, rid, bad)
    assert await unread(bob) == (1, 0, last)


async def test_text_rules_and_refusals_store_nothing(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    rid = await _room_with(ctx, ann, [bob])
    base = await _last_seq(ctx, ann, rid)

    for bad in ("x" * 4001, "你" * 4001, "", "  \n\t ", None, 5, b"bytes", "ring \x07 bell", "nul\x00"):
        with pytest.raises(Invalid):
            await ctx.messages.send(ann, rid, bad, "same-id")
    results = await asyncio.gather(ctx.messages.send(bob, rid, "y" * 4001), ctx.messages.send(bob, rid, "fine"),
                                   return_exceptions=True)
    assert isinstance(results[0], Invalid) and results[1][0].seq == base + 1
    assert await message_count(ctx) == 1

    long, _ = await ctx.messages.send(ann, rid, "x" * 4000, "same-id")
    wide, _ = await ctx.messages.send(ann, rid, "你" * 4000)
    shaped, _ = await ctx.messages.send(ann, rid, "line one\n\tline two ✓ e\u0301")
    assert (long.seq, wide.seq, shaped.seq) == (base + 2, base + 3, base + 4)
    stored = {r.seq: r.text for r in await log_rows(ctx, rid)}
    assert stored[base + 2] == "x" * 4000
    assert stored[base + 3] == "你" * 4000
    assert stored[base + 4] == "line one\n\tline two ✓ \u00e9"  # kept as written, NFC-normalised
    assert await message_count(ctx) == 4


async def test_no_message_lands_after_its_room_is_archived_or_its_sender_left(ctx: Context) -> None:
    """Sends racing an archive or the sender's own leave: each is either stored before that event in the
    log or refused. A message is never numbered after its room became read-only or its sender left."""
    users = await register(ctx, *[f"racer{i}" for i in range(6)])
    owner, talkers = users[0], users[1:]
    rid = await _room_with(ctx, owner, talkers)
    await asyncio.gather(*(ctx.rooms.get(owner, rid) for _ in range(8)))  # open pooled connections

    async def chatter(user: User, tag: str) -> list[str]:
        outcomes = []
        for i in range(6):
            try:
                await ctx.messages.send(user, rid, f"{tag}/{user.username}/{i}")
                outcomes.append("ok")
            except ParleyError as exc:
                outcomes.append(exc.code)
            await asyncio.sleep(0.003)
        return outcomes

    async def later(delay: float, call: Awaitable[object]) -> None:
        await asyncio.sleep(delay)
        await call

    for round_ in range(3):
        results = await asyncio.gather(*(chatter(u, f"a{round_}") for u in talkers),
                                       later(0.01, ctx.rooms.update(owner, rid, {"archived": True})))
        assert {code for per_user in results[:-1] for code in per_user} <= {"ok", "forbidden"}
        await ctx.rooms.update(owner, rid, {"archived": False})

    leaver = talkers[0]
    results = await asyncio.gather(chatter(leaver, "l"), later(0.01, ctx.rooms.leave(leaver, rid)))
    assert set(results[0]) <= {"ok", "not_found"}

    rows = await log_rows(ctx, rid)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    archived = False
    joined = {u.id for u in users}
    late = []
    for row in await ctx.messages.replay(rid, 0, 10_000):
        if row.type.value == "room_updated":
            archived = row.data["changes"]["archived"]
        elif row.type.value == "member_left":
            joined.discard(row.data["user"]["id"])
        elif row.type.value == "message" and archived:
            late.append(f"seq {row.seq} {row.data['text']!r} after the archive")
        elif row.type.value == "message" and row.sender["id"] not in joined:
            late.append(f"seq {row.seq} {row.data['text']!r} after its sender left")
    assert not late, "; ".join(late)
