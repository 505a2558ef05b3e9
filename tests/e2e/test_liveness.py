"""Dead-peer detection by the node's ping sweep (issue 14), on a real server with short timeouts: a
socket that stops answering is closed and its user goes offline; one that answers pings stays."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import new_user
from tests.support.client import Socket
from tests.support.server import FAST_LIMITS, ServerProcess

PING_S, TIMEOUT_S = 0.3, 1.5


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {**FAST_LIMITS, "PARLEY_WS_PING_S": str(PING_S), "PARLEY_WS_TIMEOUT_S": str(TIMEOUT_S)}
    proc = ServerProcess(f"sqlite:///{tmp_path / 'parley.db'}", tmp_path, env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


class RawSocket:
    """A WebSocket client by hand: it reads what the server sends, but answers nothing (no pong)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str, token: str) -> RawSocket:
        url = urlsplit(base)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /ws?token={token} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def frame(self) -> tuple[int, bytes]:
        """The next frame the server sent: (opcode, payload). Server frames are never masked."""
        first, second = await self.reader.readexactly(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return first & 0x0F, await self.reader.readexactly(size)

    def send_ping(self, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes((0x89, 0x80 | len(payload))) + mask + masked)

    async def frames_until_closed(self, timeout: float) -> list[int]:
        """Opcodes of every frame until the server ends the connection (EOF or reset)."""
        opcodes = []

        async def read() -> None:
            try:
                while True:
                    opcodes.append((await self.frame())[0])
            except (asyncio.IncompleteReadError, ConnectionResetError):
                return

        await asyncio.wait_for(read(), timeout)
        return opcodes


async def test_a_socket_that_stops_answering_is_closed_and_goes_offline(quick, http, names):
    ann, bob = await new_user(http, quick.url, names()), await new_user(http, quick.url, names())
    room = await ann.create_room("liveness")
    await bob.join(room["id"])
    ann_sock = await Socket.open(http, quick.url, ann.token)  # aiohttp's client answers pings by itself

    silent = await RawSocket.open(quick.url, bob.token)
    try:
        await _silent_socket_is_dropped(quick, ann, bob, room, ann_sock, silent)
    finally:
        silent.writer.close()
        await ann_sock.close()


async def _silent_socket_is_dropped(quick, ann, bob, room, ann_sock, silent) -> None:
    opened = time.monotonic()
    opcode, hello = await silent.frame()
    assert opcode == 0x1 and b'"hello"' in hello
    # A ping from the client is answered (the server handles pings itself, its autoping is off).
    silent.send_ping(b"are you there")
    frame = await asyncio.wait_for(silent.frame(), 10)
    while frame[0] == 0x1:  # text frames queued before the pong (bob's own presence, say)
        frame = await asyncio.wait_for(silent.frame(), 10)
    assert frame == (0xA, b"are you there")
    bob_online = {"user": bob.user["id"], "online": True}
    await ann_sock.wait_for(lambda f: f["type"] == "presence" and bob_online in f["changes"])

    # Then bob's side answers nothing more: the server pings it, then drops it once silent for TIMEOUT_S.
    opcodes = await silent.frames_until_closed(timeout=TIMEOUT_S + 10)
    lasted = time.monotonic() - opened
    assert 0x9 in opcodes, "the silent socket was never pinged"
    assert lasted >= TIMEOUT_S, f"closed after {lasted:.2f} s, before the {TIMEOUT_S} s timeout"
    bob_offline = {"user": bob.user["id"], "online": False}
    await ann_sock.wait_for(lambda f: f["type"] == "presence" and bob_offline in f["changes"], timeout=10)
    members = await ann.call("GET", f"/api/v1/rooms/{room['id']}/members")
    assert {m["user"]["id"]: m["online"] for m in members["members"]} == {ann.user["id"]: True,
                                                                        bob.user["id"]: False}

    # Ann sent no frame of her own all that time (longer than the timeout): her pongs kept her socket.
    assert time.monotonic() - opened > TIMEOUT_S
    assert not ann_sock.closed.is_set()
    await ann_sock.barrier()
    metrics = await ann.fetch("/metrics", auth=False)
    assert metrics[0] == 200 and b"parley_dropped_dead_sockets_total 1.0" in metrics[2]
