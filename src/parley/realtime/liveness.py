"""Dead-peer detection for every WebSocket of the node, by one task (issue 14).

aiohttp's own heartbeat gives each socket a timer, re-armed whenever data arrives: with 10,000 idle
sockets that was 3 % of a core and a TimerHandle each. Here one task walks the sockets in slices
every `period` seconds: one silent for `ping_s` is pinged, one silent for `timeout_s` (no frame and
no pong) is aborted, which detaches it and takes its user offline. Any frame counts as a sign of
life, so a browser, which sends its own `ping` every 15 s (static/ws.js), is never pinged at all.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Protocol

from parley.core import metrics

log = logging.getLogger(__name__)
SLICE = 2000  # sockets checked per turn of the event loop: ~1 ms, so the sweep never stalls delivery
PING_FRAME = b"\x89\x00"  # a final, unmasked, empty ping (RFC 6455 5.5.2)
BUSY = math.inf  # `seen` while a frame is being handled: alive (a stalled replay has its own limit)


class Watched(Protocol):
    seen: float  # loop.time() of the last frame received (BUSY while one is handled)
    pinged: float  # loop.time() of the last ping sent

    def ping(self, frame: bytes) -> None: ...
    def drop_dead(self) -> None: ...


class Liveness:
    def __init__(self, ping_s: float = 20.0, timeout_s: float = 45.0) -> None:
        self.ping_s = ping_s
        self.timeout_s = timeout_s
        # A silent socket is pinged within ping_s + period and closed within timeout_s + period.
        self.period = max(0.02, min(ping_s, timeout_s - ping_s) / 4)
        self.conns: set[Watched] = set()
        self._task: asyncio.Task[None] | None = None

    def watch(self, conn: Watched) -> None:
        conn.seen = conn.pinged = asyncio.get_running_loop().time()
        self.conns.add(conn)

    def unwatch(self, conn: Watched) -> None:
        self.conns.discard(conn)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.sweep()
            except Exception:
                log.exception("liveness sweep failed")

    async def sweep(self) -> tuple[int, int]:
        """Ping the sockets gone quiet, abort the dead ones; returns (pinged, dropped)."""
        loop = asyncio.get_running_loop()
        conns = list(self.conns)
        pinged = dropped = 0
        for start in range(0, len(conns), SLICE):
            if start:
                await asyncio.sleep(0)
            now = loop.time()
            quiet, dead = now - self.ping_s, now - self.timeout_s
            for conn in conns[start:start + SLICE]:
                seen = conn.seen
                if seen > quiet:
                    continue
                if seen <= dead:
                    dropped += 1
                    self.conns.discard(conn)
                    conn.drop_dead()
                elif conn.pinged <= seen:  # not pinged since it was last heard
                    pinged += 1
                    conn.pinged = now
                    conn.ping(PING_FRAME)
        if dropped:
            metrics.COUNTS.dropped_dead += dropped
            log.info("closed %d WebSocket(s) silent for %.0f s", dropped, self.timeout_s)
        return pinged, dropped
