"""The event stream for other systems (issue 12): what one exported record is, and the pure rules
of the exporter's loop (which rooms to take next, how far each room's cursor moves, back-off).

Every committed room event is published, per room in `seq` order, at least once. The events table
is the outbox; the durable cursor is one row per room (`export_cursors`: the last seq confirmed by
the broker). A per-room cursor rather than one "last exported event id": on PostgreSQL event ids
are handed out before commit, so id 100 may commit after id 101 and a global id cursor could step
over it; a room's seqs commit in order (seq N committed means 1..N-1 are), so a room's cursor
never skips anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Record:
    """One event as published: the JSON the clients get (`wire.encode_event`), with its address."""

    room: int
    seq: int
    type: str
    ts: int  # ms, when the event was stored
    body: bytes

    @property
    def routing_key(self) -> str:
        return routing_key(self.room, self.type)

    @property
    def headers(self) -> dict[str, int | str]:
        return {"room": self.room, "seq": self.seq, "type": self.type}

    @property
    def message_id(self) -> str:
        """The de-duplication key, (room, seq), as one string."""
        return f"{self.room}:{self.seq}"


def routing_key(room: int, event_type: str) -> str:
    """`room.<room_id>.<type>`: a consumer binds `room.#`, `room.42.#` or `room.*.message`."""
    return f"room.{room}.{event_type}"


@dataclass(frozen=True, slots=True)
class Pending:
    """A room whose log is ahead of its export cursor."""

    room: int
    last_seq: int
    cursor: int

    @property
    def behind(self) -> int:
        return self.last_seq - self.cursor


def take(pending: Sequence[Pending], after_room: int, budget: int, per_room: int) -> list[Pending]:
    """The rooms the next batch reads: round robin from the room after `after_room` (so a busy room
    cannot starve the others), until about `budget` events (each room gives at most `per_room`)."""
    ordered = sorted(pending, key=lambda p: (p.room <= after_room, p.room))
    chosen, total = [], 0
    for p in ordered:
        if total >= budget:
            break
        chosen.append(p)
        total += min(p.behind, per_room)
    return chosen


def next_cursor(p: Pending, per_room: int, read_seqs: Sequence[int]) -> int:
    """Where a room's cursor goes once what was read of it is confirmed. Everything up to the room's
    `last_seq` (as scanned, capped at `per_room` past the cursor) was committed before the scan, so
    seqs missing from what was read in that range were deleted and are stepped over; events read
    beyond it (committed after the scan) count too."""
    return max(min(p.last_seq, p.cursor + per_room), max(read_seqs, default=0))


def backoff(previous: float, low: float, high: float) -> float:
    """The next wait: double the previous one, between `low` and `high`."""
    return min(high, max(low, previous * 2))
