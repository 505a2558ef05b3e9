"""What the WebSocket and the event stream share: connection slots, the attach / resume / detach
sequence, and the list of live connections that a shutdown closes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from aiohttp import web

from parley.core import wire
from parley.realtime.connection import Connection
from parley.realtime.slots import Claim
from parley.web.http import client_ip, ctx

GOING_AWAY = 1001


class _Live:
    def __init__(self, conn: Connection, before_close: Callable[[], Awaitable[None]] | None) -> None:
        self.conn = conn
        self.before_close = before_close

    async def going_away(self) -> None:
        if self.before_close is not None:
            await self.before_close()
        await self.conn.close(GOING_AWAY, "going away")


LIVE: web.AppKey[set[_Live]] = web.AppKey("live", set)


@contextmanager
def claimed(request: web.Request) -> Iterator[Claim]:
    """This connection's slot for its address (over the cap: TooManyConnections, a 429 before any
    upgrade or stream); the handler adds the user's once known. Both are given back at the end."""
    claim = ctx(request).hub.slots.claim()
    try:
        claim.address(client_ip(request))
        yield claim
    finally:
        claim.release()


@asynccontextmanager
async def attached(request: web.Request, conn: Connection, resume_from: dict[int, int] | None,
                   before_close: Callable[[], Awaitable[None]] | None = None) -> AsyncIterator[Connection]:
    """Register `conn` with the hub (it is sent `hello`), replay from `resume_from` when given
    (then `resumed`), and detach it however the body ends. On shutdown the server awaits
    `before_close` (say, acks still being written) and closes the connection with 1001."""
    hub, registry, live = ctx(request).hub, request.app[LIVE], _Live(conn, before_close)
    registry.add(live)
    try:
        known = await hub.attach(conn, resume_from=resume_from)
        if resume_from is not None:
            conn.send(wire.ResumedFrame(cursors=await conn.resume(resume_from, known)))
        yield conn
    finally:
        registry.discard(live)
        await hub.detach(conn)


async def close_all(app: web.Application, timeout: float) -> None:
    """Close every live connection with 1001, each once its own answers have gone out."""
    tasks = [asyncio.ensure_future(live.going_away()) for live in list(app[LIVE])]
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
