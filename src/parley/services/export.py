"""The event stream for other systems (issue 12): every committed room event, published to the
export destination (RabbitMQ...) in `seq` order per room, at least once, from a durable cursor.

The events table is the outbox. One node at a time exports (the lease row, `store.export`); it
finds the rooms whose log is ahead of their cursor, reads their next events, hands them to the
`Exporter`, and moves the cursors only after the destination confirmed every one of them, in a
transaction that also renews its lease (a node that lost it moves nothing). A destination that is
down delays the stream and loses nothing: the same events are published again once it is back.
A crash between the confirm and the cursor's commit publishes a batch twice; consumers
de-duplicate by (room, seq).

Wake-ups: the emitter calls `wake(rooms)` after each commit on this node, so an idle stream has
low latency; and a poll whose interval doubles from `poll_min` to `poll_max` while nothing
happens scans every room (events written by other nodes, wake-ups lost to a restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from parley.core import wire
from parley.core.errors import Unavailable
from parley.core.export import Record, backoff, next_cursor, take
from parley.export.base import Exporter, ExportUnavailable
from parley.services.deps import Deps
from parley.store import export as store

log = logging.getLogger("parley.export")


@dataclass(frozen=True)
class ExportOptions:
    lease_ms: int = 15_000  # another node takes over this long after the exporting one died
    poll_min: float = 0.05  # seconds
    poll_max: float = 1.0
    retry_max: float = 5.0  # longest wait between attempts to reach a destination that is down
    batch: int = 2000  # events per publish, about
    per_room: int = 500  # events of one room per publish, at most
    report_every: float = 10.0  # seconds between log lines of throughput and lag while exporting


@dataclass
class ExportStats:
    exported: int = 0  # records confirmed by the destination since start (duplicates included)
    batches: int = 0
    lag_ms: int = 0  # age of the oldest event of the last confirmed batch, when confirmed
    backlog_events: int = 0  # events behind the cursor at the last full scan
    holding: bool = False
    connected: bool = False
    failures: int = 0
    claims: int = 0  # lease claims or renewals tried (every lease_ms / 3 while not exporting)


class Export:
    def __init__(self, deps: Deps, exporter: Exporter, node_id: str, options: ExportOptions | None = None) -> None:
        self.deps = deps
        self.exporter = exporter
        self.node_id = node_id
        self.options = options or ExportOptions()
        self.stats = ExportStats()
        self._dirty: set[int] = set()
        self._full = True
        self._after_room = 0
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._claimed_at = 0.0
        self._reported = 0.0
        self._counted = 0

    # -- wake-ups ------------------------------------------------------------------------------
    def wake(self, room_ids: Iterable[int]) -> None:
        """After a commit on this node: these rooms have new events."""
        self._dirty.update(room_ids)
        self._woken.set()

    # -- life ------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="export")

    async def close(self) -> None:
        self._closing = True
        self._woken.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.stats.holding:
            with contextlib.suppress(Unavailable):
                async with self.deps.db.write() as conn:
                    await store.release(conn, self.node_id)
        await self.exporter.close()

    async def _run(self) -> None:
        wait = self.options.poll_min
        retry = self.options.poll_min
        self._reported, self._counted = time.monotonic(), 0
        while not self._closing:
            self._report()
            try:
                if not await self._hold():
                    self._dirty.clear()  # the node that holds the lease finds these by its own scans
                    await self._sleep(self.options.lease_ms / 3000, wake=False)
                    continue
                if not self.stats.connected:
                    await self.exporter.start()
                    self.stats.connected = True
                    self._full = True
                    retry = self.options.poll_min
                    log.info("export: connected to %s", self.exporter.name)
                done = await self.step()
                self._counted += done
                if done:
                    wait = self.options.poll_min
                    continue  # more may be waiting
                await self._sleep(wait)
                if not self._dirty:
                    self._full = True  # woken by the clock: scan every room
                wait = backoff(wait, self.options.poll_min, self.options.poll_max)
                continue
            except ExportUnavailable as exc:
                self.stats.failures += 1
                if self.stats.connected:
                    log.warning("export: %s; retrying (nothing is lost, the cursor waits)", exc)
                self.stats.connected = False
                await self.exporter.close()
            except Unavailable as exc:
                log.warning("export: database unavailable (%s); retrying", exc)
            except store.LostLease:
                log.warning("export: node %s lost the export lease; another node exports now", self.node_id)
                self.stats.holding = False
                continue
            except Exception as exc:  # anything else (a refused statement, a bug): the stream must not stop for good
                self.stats.failures += 1
                log.error("export: %s: %s; retrying", type(exc).__name__, exc)
            # a failure: wait (new commits do not cut it short), longer each time it repeats
            await self._sleep(retry, wake=False)
            retry = backoff(retry, self.options.poll_min, self.options.retry_max)

    def _report(self) -> None:
        """The throughput and lag line, every `report_every` seconds while there is something to say."""
        now = time.monotonic()
        elapsed = now - self._reported
        if elapsed >= self.options.report_every:
            if self._counted or self.stats.backlog_events:
                log.info("export: %d events in %.1f s (%.0f/s), lag %d ms, backlog %d events", self._counted,
                         elapsed, self._counted / elapsed, self.stats.lag_ms, self.stats.backlog_events)
            self._reported, self._counted = now, 0

    async def _sleep(self, seconds: float, *, wake: bool = True) -> None:
        """Wait `seconds`, or (with `wake`) until a commit marks rooms; closing always ends it."""
        self._woken.clear()
        if self._closing or (wake and self._dirty):
            return
        deadline = time.monotonic() + seconds
        while not self._closing:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self._woken.wait(), left)
            except TimeoutError:
                return
            self._woken.clear()
            if wake:
                return

    async def _hold(self) -> bool:
        """Claim or renew the lease (renewed also by every cursor move)."""
        now = time.monotonic()
        if self.stats.holding and now - self._claimed_at < self.options.lease_ms / 3000:
            return True
        self.stats.claims += 1
        async with self.deps.db.write() as conn:
            held = await store.claim(conn, self.node_id, self.deps.clock(), self.options.lease_ms)
        if held and not self.stats.holding:
            log.info("export: node %s holds the export lease", self.node_id)
            self._full = True
        self.stats.holding = held
        self._claimed_at = now if held else 0.0
        return held

    # -- one batch -------------------------------------------------------------------------------
    async def step(self) -> int:
        """Publish the next batch and move the cursors; the number of records confirmed (0: nothing
        to do). Raises ExportUnavailable (nothing moved) or store.LostLease."""
        full, self._full = self._full, False
        dirty, self._dirty = self._dirty, set()
        opts = self.options
        async with self.deps.db.read() as conn:
            found = await store.pending(conn, None if full else sorted(dirty))
            if full:
                self.stats.backlog_events = sum(p.behind for p in found)
            chosen = take(found, self._after_room, opts.batch, opts.per_room)
            events = await store.read(conn, [p.room for p in chosen], opts.per_room) if chosen else []
        if not chosen:
            return 0
        if len(chosen) < len(found) or any(p.behind > opts.per_room for p in chosen):
            self._full = True  # a backlog: the next step scans again at once
        self._after_room = chosen[-1].room
        records = [Record(e.room_id, e.seq, e.type.value, e.ts, wire.encode_event(e)) for e in events]
        if records:
            try:
                await self.exporter.publish(records)
            except BaseException:
                self._dirty |= {p.room for p in chosen}
                raise
        seqs: dict[int, list[int]] = {}
        for r in records:
            seqs.setdefault(r.room, []).append(r.seq)
        cursors = {p.room: next_cursor(p, opts.per_room, seqs.get(p.room, ())) for p in chosen}
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            await store.advance(conn, cursors, self.node_id, now, opts.lease_ms)
        self._claimed_at = time.monotonic()
        self.stats.exported += len(records)
        self.stats.batches += 1
        if records:
            self.stats.lag_ms = max(0, now - min(r.ts for r in records))
        return max(len(records), 1)




async def status(deps: Deps) -> dict[str, object]:
    """The stream as the database records it, from any node: who exports, and how far behind."""
    async with deps.db.read() as conn:
        held = await store.lease(conn)
        rooms, events = await store.backlog(conn)
    now = deps.clock()
    holder = held[0] if held and held[1] >= now else None
    return {"holder": holder, "lease_left_ms": max(0, held[1] - now) if holder and held else 0,
            "rooms_behind": rooms, "events_behind": events}
