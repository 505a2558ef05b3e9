"""The /ws endpoint: handshake checks, authentication, then frames in and out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from functools import partial
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from parley.core import protocol, wire
from parley.core.calls import NO_CALL
from parley.core.cursors import decode_cursors
from parley.core.errors import NotFound, ParleyError, RateLimited, TooManyConnections, Unauthorized
from parley.core.protocol import ProtocolError
from parley.core.ratelimit import Bucket, Rate
from parley.core.spam import Held
from parley.realtime.connection import Connection
from parley.realtime.liveness import BUSY
from parley.realtime.slots import Claim
from parley.web.http import WS_PATH, Identity, authenticate, ctx, from_trusted_proxy
from parley.web.live import attached, claimed

log = logging.getLogger(__name__)
MAX_FRAME = 64 * 1024
AUTH_TIMEOUT = 10.0
MAX_IN_FLIGHT = 256
CLOSE_WAIT_S = 5.0
# Per connection, for the frames that fan out or read a lot: each `read` and `typing` reaches every
# member, each `resume` may replay whole rooms. Beyond these the frame is answered `rate_limited`
# and dropped. (Sends have their own per-user limit in the service.)
FRAME_RATES: dict[type, Rate] = {protocol.Read: Rate(burst=10, per_second=5),
                                 protocol.Typing: Rate(burst=5, per_second=1),
                                 protocol.Resume: Rate(burst=3, per_second=0.1),
                                 # a call's ICE candidates come in bursts: a few dozen per peer connection
                                 protocol.CallSignal: Rate(burst=300, per_second=60)}
routes = web.RouteTableDef()


def origin_allowed(request: web.Request) -> bool:
    """Browsers always send Origin; it must be this server or an allowed one (no CSWSH)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    forwarded = request.headers.get("X-Forwarded-Host")
    candidates = {f"https://{request.host}", f"http://{request.host}"}
    if forwarded and from_trusted_proxy(request):
        candidates |= {f"https://{forwarded}", f"http://{forwarded}"}
    return origin in candidates or origin in ctx(request).settings.origins


@routes.get(WS_PATH)
async def websocket(request: web.Request) -> web.StreamResponse:
    if not origin_allowed(request):
        raise web.HTTPForbidden(text="origin not allowed")
    with claimed(request) as claim:  # over a cap: 429 before the upgrade
        identity = await authenticate(request)  # an invalid token is refused before the upgrade
        if identity is not None:
            claim.user(identity[0].id)
        resume_from = decode_cursors(request.query["resume"]) if request.query.get("resume") else None
        # No aiohttp heartbeat (a timer per socket): one sweep pings every quiet socket (realtime/liveness.py).
        # autoping off: pongs and pings reach the read loop, where every frame counts as a sign of life.
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, compress=False, autoping=False)
        await ws.prepare(request)
        if identity is None:
            identity = await _first_frame_auth(request, ws, claim)
            if identity is None:
                return ws
        await _serve(request, ws, identity, resume_from)
        return ws


async def _serve(request: web.Request, ws: web.WebSocketResponse, identity: Identity,
                 resume_from: dict[int, int] | None) -> None:
    user, session = identity
    c = ctx(request)
    # The socket the WebSocketResponse writes to: frames are built once and written to it as-is.
    transport = request.transport
    if transport is None:  # the client left while authenticating
        return
    closer = _Closer(ws)
    conn = Connection(c.hub, user, session.id, transport, closer, c.settings.ws_max_queue_bytes)
    dispatcher = _Dispatcher(request, conn)
    liveness = c.liveness
    try:
        async with attached(request, conn, resume_from, before_close=dispatcher.drain):
            liveness.watch(conn)
            try:
                await closer.read(_read_loop(ws, conn, dispatcher))
            finally:
                liveness.unwatch(conn)
    except ParleyError as exc:
        # The upgrade is done: no HTTP answer can follow, only a close frame. 1013: try again later.
        conn.write_error(exc.code, exc.message, None)
        await conn.close(1013 if exc.code == "unavailable" else 1011, exc.code)
    except Exception:
        log.exception("websocket of user %s failed", user.id)
        await conn.close(1011, "internal error")
    finally:
        await closer.finish()


class _Closer:
    """Closes the socket for the connection: from the handler itself, or from another task (a
    revocation, a shutdown).

    aiohttp's `close()` called from another task while the handler waits in `receive()` drops
    the TCP connection at once, without waiting for the client's close reply; if the client is
    still sending, the kernel then resets the connection and the client loses every frame it had
    not read yet (acks included). So the handler's reading is stopped instead (its task cancelled
    while it reads, the cancel then withdrawn: no second task per connection), and the handler
    closes the socket itself, reading until the client's close reply."""

    __slots__ = ("closed", "done", "reading", "requested", "ws")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.reading: asyncio.Task[Any] | None = None  # the handler's task, while it reads
        self.requested: tuple[int, str] | None = None
        self.done = False
        # Made only when another task waits for the close (an asyncio.Event holds a deque: 760 bytes).
        self.closed: asyncio.Future[None] | None = None

    async def __call__(self, code: int, reason: str) -> None:
        if self.reading is None:
            await self.ws.close(code=code, message=reason.encode())
            return
        if self.requested is None:  # one cancel only: a second would look like the handler's own
            self.requested = (code, reason)
            self.reading.cancel()
        if not self.done:
            if self.closed is None:
                self.closed = asyncio.get_running_loop().create_future()
            await asyncio.shield(self.closed)

    async def read(self, loop: Coroutine[Any, Any, None]) -> None:
        task = self.reading = asyncio.current_task()
        try:
            await loop
        except asyncio.CancelledError:
            # Ours is withdrawn; any other cancel (the connection was lost, the server stops) goes on.
            if task is None or self.requested is None or task.uncancel() > 0:
                raise
        finally:
            self.reading = None

    async def finish(self) -> None:
        try:
            if self.requested is not None:
                code, reason = self.requested
                await self.ws.close(code=code, message=reason.encode())
        finally:
            self.done = True
            if self.closed is not None and not self.closed.done():
                self.closed.set_result(None)


async def _first_frame_auth(request: web.Request, ws: web.WebSocketResponse, claim: Claim) -> Identity | None:
    try:
        msg = await ws.receive(timeout=AUTH_TIMEOUT)
    except TimeoutError:
        await ws.close(code=4001, message=b"authenticate within 10 s")
        return None
    if msg.type is not WSMsgType.TEXT:
        await ws.close(code=4001, message=b"authenticate first")
        return None
    try:
        frame = protocol.parse(msg.data)
        if not isinstance(frame, protocol.Auth):
            raise Unauthorized("send an auth frame first")
        identity = await ctx(request).accounts.authenticate(frame.token)
        claim.user(identity[0].id)
        return identity
    except ParleyError as exc:
        await ws.send_str(wire.error_frame(exc.code, exc.message, getattr(exc, "ref", None)).decode())
        if isinstance(exc, TooManyConnections):
            await ws.close(code=4029, message=b"too many connections")
        else:
            await ws.close(code=4001, message=b"unauthorized")
        return None


async def _read_loop(ws: web.WebSocketResponse, conn: Connection, dispatcher: _Dispatcher) -> None:
    clock = asyncio.get_running_loop().time
    async for msg in ws:
        conn.seen = BUSY  # alive while the frame is handled, however long (a replay has its own stall limit)
        if msg.type is WSMsgType.TEXT:
            await dispatcher.handle(msg.data)
        elif msg.type is WSMsgType.PING:
            with contextlib.suppress(ConnectionError):  # the peer left meanwhile: the loop ends on its own
                await ws.pong(msg.data)
        elif msg.type is WSMsgType.PONG:
            pass
        elif msg.type is WSMsgType.BINARY:
            conn.write_error("bad_json", "frames must be text (JSON)", None)
        elif msg.type is WSMsgType.ERROR:
            if ws.close_code is None and isinstance(ws.exception(), Exception):
                log.debug("ws error: %s", ws.exception())
            break
        conn.seen = clock()
    await dispatcher.drain()


class _Dispatcher:
    # The semaphore, the task set and each rate bucket are made when first needed: most sockets sit
    # idle, and a bucket made late starts full, as one made at connect would be by then.
    __slots__ = ("_in_flight", "buckets", "c", "conn", "tasks")

    def __init__(self, request: web.Request, conn: Connection) -> None:
        self.c = ctx(request)
        self.conn = conn
        self._in_flight: asyncio.Semaphore | None = None
        self.tasks: set[asyncio.Future[Any]] | None = None  # sends not yet acknowledged
        self.buckets: dict[type, Bucket] | None = None

    @property
    def in_flight(self) -> asyncio.Semaphore:
        if self._in_flight is None:
            self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        return self._in_flight

    def _bucket(self, kind: type) -> Bucket | None:
        rate = FRAME_RATES.get(kind)
        if rate is None:
            return None
        if self.buckets is None:
            self.buckets = {}
        bucket = self.buckets.get(kind)
        if bucket is None:
            bucket = self.buckets[kind] = Bucket(rate, time.monotonic())
        return bucket

    async def handle(self, raw: str) -> None:
        try:
            frame = protocol.parse(raw)
            await self._dispatch(frame)
        except ProtocolError as exc:
            self.conn.write_error(exc.code, exc.message, exc.ref)
        except ParleyError as exc:
            self.conn.write_error(exc.code, exc.message, getattr(frame, "ref", None), getattr(exc, "retry_after", None))

    async def _dispatch(self, frame: protocol.ClientFrame) -> None:
        user = self.conn.user
        bucket = self._bucket(type(frame))
        if bucket is not None and (wait := bucket.take(time.monotonic())):
            raise RateLimited(f"too many {type(frame).__name__.lower()} frames; retry in {wait:.1f} s", wait)
        if isinstance(frame, protocol.Send):
            # Submitted in arrival order (so one client's messages keep their order); the ack is
            # written by a callback of the send's future (not a task per send: ~7 µs less), so
            # that concurrent sends share a transaction.
            await self.in_flight.acquire()
            try:
                future = await self.c.messages.submit(user, frame.room, frame.text, frame.client_msg_id,
                                                      session_id=self.conn.session_id,
                                                      attachments=frame.attachments, reply_to=frame.reply_to,
                                                      thread_root=frame.thread_root)
            except BaseException:
                self.in_flight.release()
                raise
            if self.tasks is None:
                self.tasks = set()
            self.tasks.add(future)
            future.add_done_callback(partial(self._ack, frame))
        elif isinstance(frame, protocol.Resume):
            # Frames are handled one at a time, so a second resume waits for this replay to end.
            cursors = await self.conn.resume(frame.cursors)
            self.conn.send(wire.ResumedFrame(cursors=cursors, ref=frame.ref))
        elif isinstance(frame, protocol.Typing):
            await self.c.messages.typing(user, frame.room)
        elif isinstance(frame, protocol.Read):
            await self.c.messages.mark_read(user, frame.room, frame.seq)
        elif isinstance(frame, protocol.Edit | protocol.Delete | protocol.React):
            changed = await self._act(frame)
            self.conn.send(wire.DoneFrame(room=frame.room, seq=frame.seq, changed=changed, ref=frame.ref))
        elif isinstance(frame, protocol.CALL_FRAMES):
            await self._call(frame)
        elif isinstance(frame, protocol.Ping):
            self.conn.send(wire.PongFrame(ref=frame.ref))
        else:
            self.conn.write_error("invalid", "already authenticated", frame.ref)

    async def _call(self, frame: Any) -> None:
        """Call signalling (issue 13): the service checks and relays; the hub routes signals to
        the participant connections held here."""
        user, calls, hub, conn = self.conn.user, self.c.calls, self.c.hub, self.conn
        if isinstance(frame, protocol.CallSignal):
            source = conn.call_peers.get(frame.call)
            if source is None:
                raise NotFound(NO_CALL)
            candidate = None if frame.candidate is None else msgspec.to_builtins(frame.candidate)
            out = wire.CallSignalFrame(call=frame.call, source=source, user=user.id, kind=frame.kind, sdp=frame.sdp,
                                       candidate=candidate, restart=frame.restart)
            await calls.signal(user, frame.call, source, out, frame.to)
        elif isinstance(frame, protocol.CallStart | protocol.CallJoin):
            if isinstance(frame, protocol.CallStart):
                view, peer = await calls.start(user, frame.room, frame.video)
            else:
                view, peer = await calls.join(user, frame.call, frame.peer or conn.call_peers.get(frame.call))
            hub.add_peer(conn, view.id, peer)
            conn.send(wire.CallJoinedFrame(call=view, peer=peer, ref=frame.ref))
        elif isinstance(frame, protocol.CallLeave):
            peer = hub.drop_peer(conn, frame.call)
            await calls.leave(user, frame.call, [] if peer is None else [peer])
        elif isinstance(frame, protocol.CallEnd):
            await calls.end(user, frame.call, frame.call in conn.call_peers)
            hub.drop_peer(conn, frame.call)
        elif isinstance(frame, protocol.CallDecline):
            await calls.decline(user, frame.call)

    async def _act(self, frame: protocol.Edit | protocol.Delete | protocol.React) -> bool:
        """A message action; its event reaches everyone in the room (this socket too) on its own."""
        user, actions = self.conn.user, self.c.actions
        if isinstance(frame, protocol.Edit):
            _, changed = await actions.edit(user, frame.room, frame.seq, frame.text)
            return changed
        if isinstance(frame, protocol.Delete):
            return await actions.delete(user, frame.room, frame.seq, as_spam=frame.spam)
        return await actions.react(user, frame.room, frame.seq, frame.emoji, frame.on)

    def _ack(self, frame: protocol.Send, future: asyncio.Future[Any]) -> None:
        if self.tasks is not None:
            self.tasks.discard(future)
        try:
            if future.cancelled():
                return
            event, _ = future.result()
            if isinstance(event, Held):  # held for review: in no room log (yet)
                self.conn.send(wire.AckFrame(client_msg_id=event.client_msg_id, room=event.room_id, seq=0, id=0,
                                             ts=event.created_at, ref=frame.ref, held=True, held_id=event.id))
                return
            self.conn.send(wire.AckFrame(client_msg_id=event.client_msg_id, room=event.room_id, seq=event.seq,
                                         id=event.id, ts=event.ts, ref=frame.ref))
        except ParleyError as exc:
            self.conn.write_error(exc.code, exc.message, frame.ref, getattr(exc, "retry_after", None))
            if isinstance(exc, Unauthorized):  # the session was revoked: nothing more from it
                self.conn.spawn(self.conn.close(4001, "session revoked"))
        except Exception:
            log.exception("send failed")
            self.conn.write_error("internal", "the message could not be stored; retry with the same client_msg_id",
                                  frame.ref)
        finally:
            self.in_flight.release()

    async def drain(self) -> None:
        """Let acks already under way finish writing (their messages are stored either way)."""
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)
