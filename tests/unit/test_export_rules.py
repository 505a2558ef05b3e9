"""The event stream's pure rules (core/export.py): addresses, round robin between rooms, where a
room's cursor goes, back-off."""

from __future__ import annotations

from parley.core.export import Pending, Record, backoff, next_cursor, routing_key, take


def test_a_record_is_addressed_by_room_seq_and_type() -> None:
    r = Record(42, 7, "message", 1, b"{}")
    assert r.routing_key == routing_key(42, "message") == "room.42.message"
    assert r.headers == {"room": 42, "seq": 7, "type": "message"}
    assert r.message_id == "42:7"


def test_take_goes_round_robin_from_the_room_after_the_last_one_served() -> None:
    pending = [Pending(room, 1000, 0) for room in (5, 1, 9, 3)]
    assert [p.room for p in take(pending, 0, budget=10_000, per_room=100)] == [1, 3, 5, 9]
    assert [p.room for p in take(pending, 3, budget=10_000, per_room=100)] == [5, 9, 1, 3]
    # a budget of 250 at 100 per room: three rooms, the busy ones cannot starve the next
    assert [p.room for p in take(pending, 5, budget=250, per_room=100)] == [9, 1, 3]
    assert [p.room for p in take(pending, 9, budget=1, per_room=100)] == [1]
    assert take([], 0, budget=10, per_room=10) == []
    # rooms a little behind count for what they hold, not for per_room
    small = [Pending(room, 2, 0) for room in range(1, 8)]
    assert len(take(small, 0, budget=10, per_room=100)) == 5


def test_next_cursor_covers_what_was_scanned_and_read() -> None:
    p = Pending(1, last_seq=50, cursor=10)
    assert p.behind == 40
    assert next_cursor(p, per_room=100, read_seqs=list(range(11, 51))) == 50
    assert next_cursor(p, per_room=20, read_seqs=list(range(11, 31))) == 30  # capped per room
    assert next_cursor(p, per_room=100, read_seqs=[11, 12, 40]) == 50  # rows missing below last_seq were deleted
    assert next_cursor(p, per_room=100, read_seqs=list(range(11, 56))) == 55  # committed after the scan: read too
    assert next_cursor(p, per_room=100, read_seqs=[]) == 50


def test_backoff_doubles_between_its_bounds() -> None:
    assert backoff(0.0, 0.05, 1.0) == 0.05
    assert backoff(0.05, 0.05, 1.0) == 0.1
    assert backoff(0.8, 0.05, 1.0) == 1.0
    assert backoff(1.0, 0.05, 1.0) == 1.0
