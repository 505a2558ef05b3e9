"""The ping sweep's rules (realtime/liveness.py), with sockets whose silence the test sets: no sleeps."""

from __future__ import annotations

import asyncio

from parley.core import metrics
from parley.realtime.liveness import BUSY, PING_FRAME, SLICE, Liveness


class FakeSocket:
    def __init__(self) -> None:
        self.seen = self.pinged = 0.0
        self.pings: list[bytes] = []
        self.dropped = False

    def ping(self, frame: bytes) -> None:
        self.pings.append(frame)

    def drop_dead(self) -> None:
        self.dropped = True


def _silent_for(sock: FakeSocket, seconds: float) -> None:
    """As if the socket had been opened `seconds` ago and heard nothing since."""
    sock.seen = sock.pinged = asyncio.get_running_loop().time() - seconds


async def test_quiet_sockets_are_pinged_once_and_dead_ones_dropped() -> None:
    liveness = Liveness(ping_s=20, timeout_s=45)
    talking, quiet, dead, busy = FakeSocket(), FakeSocket(), FakeSocket(), FakeSocket()
    for sock in (talking, quiet, dead, busy):
        liveness.watch(sock)
    _silent_for(talking, 5)
    _silent_for(quiet, 25)
    _silent_for(dead, 50)
    busy.seen = BUSY  # a frame being handled, however long
    before = metrics.COUNTS.dropped_dead

    assert await liveness.sweep() == (1, 1)
    assert quiet.pings == [PING_FRAME] and not quiet.dropped
    assert dead.dropped and dead not in liveness.conns and not dead.pings
    assert not talking.pings and not busy.pings and not busy.dropped
    assert metrics.COUNTS.dropped_dead == before + 1

    # Not pinged again while its ping is unanswered; a pong (any frame) makes it pingable again.
    assert await liveness.sweep() == (0, 0)
    assert quiet.pings == [PING_FRAME]
    _silent_for(quiet, 21)
    assert await liveness.sweep() == (1, 0)
    assert len(quiet.pings) == 2


async def test_a_sweep_covers_more_sockets_than_one_slice() -> None:
    liveness = Liveness(ping_s=1, timeout_s=2)
    socks = [FakeSocket() for _ in range(SLICE * 2 + 5)]
    for sock in socks:
        liveness.watch(sock)
        _silent_for(sock, 3)
    assert await liveness.sweep() == (0, len(socks))
    assert all(s.dropped for s in socks) and not liveness.conns


async def test_unwatched_sockets_are_left_alone() -> None:
    liveness = Liveness(ping_s=1, timeout_s=2)
    sock = FakeSocket()
    liveness.watch(sock)
    liveness.unwatch(sock)
    _silent_for(sock, 3)
    assert await liveness.sweep() == (0, 0)
    assert not sock.dropped
