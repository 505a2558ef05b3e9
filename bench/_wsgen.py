"""The load generator's WebSocket side: picows clients, and a tiny pipe from receiver processes to the main one.

picows (Cython) keeps the generator's cost per frame to a few microseconds, so that on a 2-core machine
most of the CPU is left to the server. aiohttp's client is the fallback when picows is missing.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable

try:
    from picows import WSListener, WSMsgType, ws_connect
except ImportError:  # pragma: no cover - the bench extra installs picows
    WSListener = object  # type: ignore[assignment,misc]
    ws_connect = None

RECORD = struct.Struct("<cId")  # kind, integer, timestamp (time.monotonic, the same clock in every process)

OnPayload = Callable[[bytes], None]


class Conn(WSListener):
    """One client connection: waits for `hello`, then hands every text payload to `on_payload`."""

    def __init__(self, on_payload: OnPayload | None, on_drop: Callable[[Conn], None] | None = None):
        super().__init__()
        self.on_payload = on_payload
        self.on_drop = on_drop
        self.hello: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.partial: bytearray | None = None
        self.transport = None

    def on_ws_connected(self, transport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport, frame) -> None:
        mt = frame.msg_type
        if mt is WSMsgType.TEXT or mt is WSMsgType.CONTINUATION:
            if not frame.fin or self.partial is not None:
                if self.partial is None:
                    self.partial = bytearray()
                self.partial += frame.get_payload_as_memoryview()
                if not frame.fin:
                    return
                data, self.partial = bytes(self.partial), None
            else:
                data = frame.get_payload_as_bytes()
            if not self.hello.done():
                if b'"hello"' in data:
                    self.hello.set_result(data)
                elif b'"error"' in data:
                    self.hello.set_exception(RuntimeError(f"error before hello: {data[:300]!r}"))
                return
            if self.on_payload is not None:
                self.on_payload(data)
        elif mt is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport) -> None:
        if not self.hello.done():
            self.hello.set_exception(ConnectionError("disconnected before hello"))
        elif self.on_drop is not None:
            self.on_drop(self)

    def send(self, data: bytes) -> None:
        self.transport.send(WSMsgType.TEXT, data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.disconnect(graceful=False)


async def connect(url: str, factory: Callable[[], Conn], retries: int = 5, source: str | None = None) -> Conn:
    """Open one connection and wait for its `hello` (retrying a refused or reset connect); `source`:
    the local address to connect from (127.0.0.2, ...), for more connections than one address has ports."""
    extra = {} if source is None else {"local_addr": (source, 0)}
    if ws_connect is None:
        raise SystemExit("picows is not installed: pip install picows (see bench/README.md)")
    for attempt in range(retries):
        try:
            _transport, conn = await ws_connect(
                factory, url, websocket_handshake_timeout=60, enable_auto_pong=True, **extra
            )
            if conn is None:  # the upgrade did not complete (a reconnect storm on a loaded machine)
                raise ConnectionError("no WebSocket listener after the handshake")
            await asyncio.wait_for(conn.hello, 60)
            return conn
        except (OSError, ConnectionError):
            if attempt == retries - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def connect_many(urls: list[str], make: Callable[[int], Conn], concurrency: int = 64,
                       sources: list[str] | None = None) -> list[Conn]:
    """Open connections a few dozen at a time (the server's accept backlog is finite); make(i) builds
    the listener of urls[i]; with `sources`, connection i comes from sources[i % len(sources)]."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int, url: str) -> Conn:
        async with sem:
            return await connect(url, lambda: make(i), source=sources[i % len(sources)] if sources else None)

    return await asyncio.gather(*(one(i, u) for i, u in enumerate(urls)))


class Link(asyncio.Protocol):
    """One end of a socketpair carrying fixed-size RECORDs; writes are batched per loop iteration."""

    def __init__(self, on_record: Callable[[bytes, int, float], None] | None = None):
        self.on_record = on_record
        self.buf = b""
        self.out: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, sock, on_record=None) -> Link:
        _t, link = await asyncio.get_running_loop().create_connection(lambda: cls(on_record), sock=sock)
        return link

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        n = len(buf) - len(buf) % RECORD.size
        if self.on_record is not None:
            for kind, num, t in RECORD.iter_unpack(buf[:n]):
                self.on_record(kind, num, t)
        self.buf = buf[n:]

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, kind: bytes, num: int, t: float = 0.0) -> None:
        if not self.out:
            asyncio.get_running_loop().call_soon(self._flush)
        self.out.append(RECORD.pack(kind, num, t))

    def _flush(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.out))
        self.out.clear()


def now() -> float:
    return time.monotonic()
