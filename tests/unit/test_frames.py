"""parley.realtime.frames.text_frame: a final, unmasked text frame per RFC 6455 section 5.2."""

from __future__ import annotations

import struct

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from parley.realtime.frames import text_frame


def decode(frame: bytes) -> tuple[bool, int, bool, bytes]:
    """(fin, opcode, masked, payload), reading the length the way a client must."""
    b0, b1 = frame[0], frame[1]
    fin, rsv, opcode = bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F
    assert rsv == 0
    masked, length = bool(b1 & 0x80), b1 & 0x7F
    offset = 2
    if length == 126:
        (length,) = struct.unpack_from("!H", frame, offset)
        offset += 2
        assert length >= 126, "the 16-bit form must not be used for lengths under 126"
    elif length == 127:
        (length,) = struct.unpack_from("!Q", frame, offset)
        offset += 8
        assert length >= 1 << 16, "the 64-bit form must not be used for lengths under 65536"
        assert length >> 63 == 0, "the most significant bit must be 0"
    payload = frame[offset:]
    assert len(payload) == length
    return fin, opcode, masked, payload


@pytest.mark.parametrize(("n", "header_len", "len7"), [(0, 2, 0), (1, 2, 1), (125, 2, 125), (126, 4, 126),
                                                       (127, 4, 126), (65535, 4, 126), (65536, 10, 127),
                                                       (100_000, 10, 127)])
def test_text_frame_header(n: int, header_len: int, len7: int) -> None:
    payload = bytes(i % 251 for i in range(n))
    frame = text_frame(payload)
    assert len(frame) == header_len + n
    assert frame[0] == 0x81  # FIN + opcode 1 (text)
    assert frame[1] == len7  # mask bit clear: servers never mask
    assert decode(frame) == (True, 1, False, payload)


def test_text_frame_carries_utf8_json() -> None:
    payload = '{"type":"message","text":"你好"}'.encode()
    assert decode(text_frame(payload))[3].decode() == '{"type":"message","text":"你好"}'


async def test_prebuilt_frames_written_to_the_request_transport_interleave_with_aiohttp_frames() -> None:
    """web/ws.py writes prebuilt frames to `request.transport`, beside aiohttp's own frames (pings,
    close): this holds only while it is the socket aiohttp's WebSocket writer writes to, and that
    writer puts each uncompressed frame whole and at once, so that frames never interleave."""
    big = b'"' + b"x" * 70_000 + b'"'
    seen: list[bool] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        seen.append(transport is ws._writer.transport)  # private, read here only to check the premise
        await ws.send_str('"a"')
        transport.write(text_frame(b'"b"'))
        await ws.ping()
        transport.write(text_frame(big) + text_frame(b'"c"'))
        await ws.send_str('"d"')
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    async with TestServer(app) as server, aiohttp.ClientSession() as http, http.ws_connect(server.make_url("/")) as ws:
        got = [msg.data async for msg in ws]
    assert got == ['"a"', '"b"', big.decode(), '"c"', '"d"']
    assert seen == [True]
