"""The event stream's cursor (issue 12), on SQLite and PostgreSQL, with the in-memory destination:
every committed room event in seq order per room, at least once, from durable per-room cursors; a
destination that fails mid-batch or a restart loses nothing; one node exports at a time and another
takes over from the cursor when it dies; a commit wakes the exporter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import orjson
import pytest

from parley.core.export import Record
from parley.export.base import ExportUnavailable
from parley.export.memory import MemoryExporter
from parley.services.export import Export, ExportOptions
from parley.store import export as export_store
from parley.web.context import Context
from tests.contract.helpers import close_context, log_rows, open_context, register


@pytest.fixture
async def ctx(database_url: str) -> AsyncIterator[Context]:
    context = await open_context(database_url, export_url="memory://")
    try:
        yield context
    finally:
        await close_context(context)


def exporter_of(ctx: Context) -> MemoryExporter:
    assert ctx.export is not None and isinstance(ctx.export.exporter, MemoryExporter)
    return ctx.export.exporter


def new_export(ctx: Context, node: str, **options: float) -> Export:
    export = Export(ctx.messages.deps, MemoryExporter(), node, ExportOptions(**options))  # type: ignore[arg-type]
    ctx.messages.emitter.watchers.append(export.wake)
    return export


async def busy_rooms(ctx: Context, rooms: int, messages: int, prefix: str = "r") -> list[int]:
    """`rooms` rooms with two members each and `messages` messages sent to them all at once."""
    ann, bob = await register(ctx, f"{prefix}ann", f"{prefix}bob")
    ids = [(await ctx.rooms.create(ann, f"{prefix}-room-{i}"))["id"] for i in range(rooms)]
    for rid in ids:
        await ctx.rooms.join(bob, rid)
    await asyncio.gather(*(ctx.messages.send((ann, bob)[n % 2], ids[n % rooms], f"{prefix} {n} 你好")
                           for n in range(messages)))
    return ids


async def drain(export: Export) -> int:
    total = 0
    while done := await export.step():
        total += done
    return total


def first_seen(records: list[Record]) -> dict[int, list[int]]:
    """Each room's seqs in the order they first arrived, as a consumer de-duplicating by (room, seq) sees them."""
    seen: set[tuple[int, int]] = set()
    out: dict[int, list[int]] = {}
    for r in records:
        if (r.room, r.seq) not in seen:
            seen.add((r.room, r.seq))
            out.setdefault(r.room, []).append(r.seq)
    return out


async def last_seqs(ctx: Context) -> dict[int, int]:
    out: dict[int, int] = {}
    for row in await log_rows(ctx):
        out[row.room_id] = max(out.get(row.room_id, 0), row.seq)
    return out


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def caught_up(ctx: Context, timeout: float = 15.0) -> None:
    """Until every room's export cursor is at its last seq (the confirms come before the cursor's commit)."""
    deadline = time.monotonic() + timeout
    while True:
        async with ctx.db.read() as conn:
            if await export_store.backlog(conn) == (0, 0):
                return
        assert time.monotonic() < deadline, "the cursors never caught up"
        await asyncio.sleep(0.02)


async def test_every_event_goes_out_once_in_seq_order_per_room(ctx: Context) -> None:
    assert ctx.export is not None
    await busy_rooms(ctx, 12, 300)
    assert await ctx.export._hold()
    await exporter_of(ctx).start()
    sent = await drain(ctx.export)
    out = exporter_of(ctx).confirmed
    rows = {(r.room_id, r.seq): r for r in await log_rows(ctx)}
    assert sent == len(out) == len(rows)  # nothing twice when nothing failed
    assert {room: seqs for room, seqs in first_seen(out).items()} == {
        room: list(range(1, last + 1)) for room, last in (await last_seqs(ctx)).items()}
    for record in out:  # the body is the event as the clients get it
        body, row = orjson.loads(record.body), rows[(record.room, record.seq)]
        assert (body["room"], body["seq"], body["type"], body.get("text")) == (row.room_id, row.seq, row.type, row.text)
        assert record.type == row.type and record.routing_key == f"room.{row.room_id}.{row.type}"
    async with ctx.db.read() as conn:
        assert await export_store.backlog(conn) == (0, 0)
    assert await ctx.export.step() == 0


async def test_a_destination_failing_mid_batch_delays_and_loses_nothing(ctx: Context) -> None:
    assert ctx.export is not None
    await busy_rooms(ctx, 5, 120)
    async with ctx.db.read() as conn:
        before = await export_store.backlog(conn)
    dest = exporter_of(ctx)
    assert await ctx.export._hold()
    await dest.start()
    dest.fail_after = 37  # 37 records reach the destination, then it goes away
    with pytest.raises(ExportUnavailable):
        await ctx.export.step()
    assert len(dest.confirmed) == 37
    async with ctx.db.read() as conn:
        assert await export_store.backlog(conn) == before  # no confirm, no cursor move
    with pytest.raises(ExportUnavailable):
        await dest.start()  # still down
    dest.up = True
    await dest.start()
    await drain(ctx.export)
    assert len(dest.confirmed) > sum(before[1:])  # the 37 went out again: at least once
    assert first_seen(dest.confirmed) == {room: list(range(1, last + 1)) for room, last in (await last_seqs(ctx)).items()}


async def test_a_restarted_exporter_goes_on_from_the_durable_cursor(ctx: Context) -> None:
    rooms = await busy_rooms(ctx, 6, 90)
    first = new_export(ctx, "node-1", batch=20, per_room=7)
    assert await first._hold()
    await first.exporter.start()
    for _ in range(3):  # a few batches, then the process "dies": nothing released, nothing flushed
        assert await first.step()
    async with ctx.db.read() as conn:
        cursors = {p.room: p.cursor for p in await export_store.pending(conn)}
    assert cursors and any(c > 0 for c in cursors.values())
    second = new_export(ctx, "node-1", batch=50, per_room=50)  # the same node, restarted
    assert await second._hold()
    await second.exporter.start()
    await drain(second)
    out = second.exporter.confirmed  # type: ignore[attr-defined]
    starts = {room: seqs[0] for room, seqs in first_seen(out).items()}
    assert starts == {room: cursor + 1 for room, cursor in cursors.items()}  # nothing confirmed is sent again
    both = first.exporter.confirmed + out  # type: ignore[attr-defined]
    assert first_seen(both) == {room: list(range(1, last + 1)) for room, last in (await last_seqs(ctx)).items()}
    assert set(rooms) <= set(first_seen(both))


async def test_one_node_exports_and_another_takes_over_when_it_dies(ctx: Context) -> None:
    a = new_export(ctx, "node-a", lease_ms=600, poll_max=0.1)
    b = new_export(ctx, "node-b", lease_ms=600, poll_max=0.1)
    await a.start()
    await until(lambda: a.stats.holding)
    await b.start()
    rooms = await busy_rooms(ctx, 3, 60, "x")
    expected = await last_seqs(ctx)
    await until(lambda: first_seen(a.exporter.confirmed) == {  # type: ignore[attr-defined]
        r: list(range(1, n + 1)) for r, n in expected.items()})
    assert b.exporter.confirmed == [] and not b.stats.holding  # type: ignore[attr-defined]
    # node a dies: its task stops without giving the lease up
    assert a._task is not None
    a._task.cancel()
    await asyncio.gather(a._task, return_exceptions=True)
    async with ctx.db.read() as conn:  # what node a had confirmed and recorded before it died
        cursors = await export_store.cursors(conn)
    await until(lambda: b.stats.holding, timeout=10)
    ann = (await register(ctx, "late"))[0]
    for rid in rooms:
        await ctx.rooms.join(ann, rid)
        await ctx.messages.send(ann, rid, "after the takeover")
    expected = await last_seqs(ctx)
    await until(lambda: {r: seqs[-1] for r, seqs in first_seen(b.exporter.confirmed).items()} == expected)  # type: ignore[attr-defined]
    # b went on from the durable cursor: no gap, and nothing a had recorded as confirmed again
    assert first_seen(b.exporter.confirmed) == {  # type: ignore[attr-defined]
        r: list(range(cursors.get(r, 0) + 1, expected[r] + 1)) for r in expected}
    # the dead node, were it to wake up, publishes at most a duplicate and moves no cursor
    await caught_up(ctx)  # b recorded what it confirmed
    # b pauses (its task stops; it keeps the lease), else it may export the next message before the
    # dead node looks, which then finds nothing to do and never tries to move a cursor
    assert b._task is not None
    b._task.cancel()
    await asyncio.gather(b._task, return_exceptions=True)
    await ctx.messages.send(ann, rooms[0], "one more")
    a._full = True  # look at every room, not only those a commit woke it for
    with pytest.raises(export_store.LostLease):
        await a.step()
    async with ctx.db.read() as conn:
        lease = await export_store.lease(conn)
    assert lease is not None and lease[0] == "node-b"
    await b.close()
    async with ctx.db.read() as conn:  # a clean stop gives the lease up at once
        lease = await export_store.lease(conn)
    assert lease is not None and lease[1] == 0


async def test_a_commit_wakes_an_idle_exporter(ctx: Context) -> None:
    export = new_export(ctx, "node-w", poll_min=30, poll_max=30)  # the clock alone would take 30 s
    ann, = await register(ctx, "wann")
    rid = (await ctx.rooms.create(ann, "wake"))["id"]
    await export.start()
    await until(lambda: len(export.exporter.confirmed) >= 2)  # type: ignore[attr-defined]  # the start's full scan
    t0 = time.monotonic()
    await ctx.messages.send(ann, rid, "wake up")
    await until(lambda: any(r.type == "message" for r in export.exporter.confirmed), timeout=5)  # type: ignore[attr-defined]
    assert time.monotonic() - t0 < 5
    assert export.stats.lag_ms < 5000
    await export.close()


async def test_throughput_and_lag_are_logged_while_exporting(ctx: Context, caplog: pytest.LogCaptureFixture) -> None:
    export = new_export(ctx, "node-l", report_every=0.2)
    caplog.set_level("INFO", logger="parley.export")
    await busy_rooms(ctx, 2, 40, "l")
    await export.start()
    await until(lambda: any("lag" in r.getMessage() for r in caplog.records))
    line = next(r.getMessage() for r in caplog.records if "lag" in r.getMessage())
    assert line.startswith("export: ") and " events in " in line and "/s), lag " in line and " ms, backlog " in line
    assert export.stats.exported >= 40 + 2 * 3 and export.stats.batches >= 1
    await export.close()


async def test_an_outage_and_a_lease_held_elsewhere_are_waited_out_not_spun_on(ctx: Context) -> None:
    """Commits keep waking the exporters, but a node whose destination is down retries with back-off,
    and a node without the lease only asks for it every lease / 3."""
    ann, = await register(ctx, "sann")
    rid = (await ctx.rooms.create(ann, "spin"))["id"]
    a = new_export(ctx, "node-a", lease_ms=3000, poll_min=0.05, retry_max=1.0)  # retries renew the lease in time
    b = new_export(ctx, "node-b", lease_ms=3000)
    dest = a.exporter
    assert isinstance(dest, MemoryExporter)
    dest.up = False
    await a.start()
    await until(lambda: a.stats.holding and dest.starts >= 1)
    await b.start()
    claims, t0 = b.stats.claims, time.monotonic()
    for k in range(40):  # 40 commits over about 1.5 s, each waking both
        await ctx.messages.send(ann, rid, f"while down {k}")
        await asyncio.sleep(0.03)
    elapsed = time.monotonic() - t0
    assert dest.starts <= 2 + elapsed / 0.05 / 4, dest.starts  # 0.05, 0.1, 0.2, 0.4, 0.8 s...: a handful
    assert b.stats.claims - claims <= 2 + elapsed / 1.0, b.stats.claims - claims
    assert dest.confirmed == [] and b.exporter.confirmed == []  # type: ignore[attr-defined]
    dest.up = True
    expected = await last_seqs(ctx)
    await until(lambda: first_seen(dest.confirmed) == {r: list(range(1, n + 1)) for r, n in expected.items()})
    await a.close()
    await b.close()
