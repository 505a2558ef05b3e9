"""GET /api/v1/events: the event stream for EventSource clients; sends go over REST."""

from __future__ import annotations

import asyncio

from aiohttp import web

from parley.core.cursors import decode_cursors
from parley.core.models import Session, User
from parley.realtime.sse import SseConnection
from parley.web.http import EVENTS_PATH, auth, ctx
from parley.web.live import attached, claimed

HEARTBEAT_S = 15.0
routes = web.RouteTableDef()


@routes.get(EVENTS_PATH)
async def events(request: web.Request) -> web.StreamResponse:
    with claimed(request) as claim:  # over a cap: 429 before the stream starts
        identity = await auth(request)
        claim.user(identity[0].id)
        return await _stream(request, *identity)


async def _stream(request: web.Request, user: User, session: Session) -> web.StreamResponse:
    c = ctx(request)
    last_id = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    cursors = decode_cursors(last_id) if last_id else None
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-store",
        "X-Accel-Buffering": "no"})  # nginx: stream, do not buffer
    response.enable_chunked_encoding()
    await response.prepare(request)
    transport = request.transport
    assert transport is not None
    closed = asyncio.Event()

    async def close(code: int, reason: str) -> None:
        closed.set()  # the handler returns: the response ends with its last chunk, cleanly

    conn = SseConnection(c.hub, user, session.id, transport, close, c.settings.ws_max_queue_bytes)
    async with attached(request, conn, cursors):
        while not transport.is_closing() and not closed.is_set():
            try:
                await asyncio.wait_for(closed.wait(), HEARTBEAT_S)
            except TimeoutError:
                conn.heartbeat()
    return response
