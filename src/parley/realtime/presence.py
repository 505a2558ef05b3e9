"""Presence frames, coalesced per node: at most one `presence` frame per connection per second,
carrying every change since the previous one (each user's latest state).

1,000 people coming online in one room within 10 s used to be 10^6 frames (one per change per
connection); now each connection gets at most 10, each listing the changes of its second. Changes
are noted per room as they arrive from the bus; a timer flushes them: at once (at the end of this
turn of the event loop) after a quiet second, else one second after the previous flush.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from parley.core import metrics, wire
from parley.realtime.connection import Connection
from parley.realtime.frames import text_frame

PERIOD_S = 1.0
Schedule = Callable[[float, Callable[[], None]], Any]


def _loop_schedule(delay: float, callback: Callable[[], None]) -> Any:
    return asyncio.get_running_loop().call_later(delay, callback)


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class PresenceBatch:
    def __init__(self, rooms: Mapping[int, Iterable[Connection]], *, schedule: Schedule = _loop_schedule,
                 clock: Callable[[], float] = _loop_time, period: float = PERIOD_S) -> None:
        self._rooms = rooms  # the hub's room -> local connections, read at flush time
        self._schedule = schedule
        self._clock = clock
        self._period = period
        self._pending: dict[int, dict[int, bool]] = {}  # room -> {user: online}
        self._timer: Any = None
        self._scheduled = False
        self._last_flush = float("-inf")

    def note(self, user: int, online: bool, rooms: Iterable[int]) -> None:
        """A user went online or offline; only the rooms with local connections are kept."""
        metrics.COUNTS.presence_changes += 1
        for room in rooms:
            if room in self._rooms:
                self._pending.setdefault(room, {})[user] = online
        if self._pending and not self._scheduled:
            wait = max(0.0, self._last_flush + self._period - self._clock())
            self._scheduled = True
            self._timer = self._schedule(wait, self.flush)

    def flush(self) -> None:
        """One frame to every connection sharing a room with a changed user (never about itself)."""
        pending, self._pending, self._timer, self._scheduled = self._pending, {}, None, False
        self._last_flush = self._clock()
        rooms_of: dict[Connection, list[int]] = {}
        for room in pending:
            for conn in self._rooms.get(room, ()):
                rooms_of.setdefault(conn, []).append(room)
        built: dict[tuple[int, ...], tuple[dict[int, bool], bytes, bytes]] = {}
        # Without the connection's own user: built once per user (a user holds several connections,
        # and after a reconnect storm nearly every user is among the changes).
        others: dict[tuple[tuple[int, ...], int], tuple[bytes, bytes]] = {}
        for conn, rooms in rooms_of.items():
            key = tuple(rooms)
            if key not in built:
                changes: dict[int, bool] = {}
                for room in rooms:
                    changes.update(pending[room])
                payload = _encode(changes)
                built[key] = (changes, payload, text_frame(payload))
            changes, payload, frame = built[key]
            me = conn.user.id
            if me in changes:  # the others' changes only
                if len(changes) == 1:
                    continue
                if (key, me) not in others:
                    without = _encode({u: on for u, on in changes.items() if u != me})
                    others[key, me] = (without, text_frame(without))
                payload, frame = others[key, me]
            conn.emit(payload, frame)
            metrics.COUNTS.presence_frames += 1

    def cancel(self) -> None:
        if self._timer is not None and hasattr(self._timer, "cancel"):
            self._timer.cancel()
        self._timer, self._scheduled = None, False


def _encode(changes: dict[int, bool]) -> bytes:
    return wire.encode(wire.PresenceFrame(changes=[wire.PresenceChange(user=u, online=on)
                                                   for u, on in sorted(changes.items())]))
