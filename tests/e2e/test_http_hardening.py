"""The HTTP layer seen from outside: the same security headers on every answer, no product version
in `Server`, and requests aiohttp cannot parse answered in JSON without a traceback in the log."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import pytest

from tests.conftest import new_user

MARKER = "refused a malformed request"


async def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are, read the whole answer (the server closes after an error)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
        return status, headers, body
    finally:
        writer.close()


def _check_headers(where: str, headers: Any) -> None:
    get = {k.lower(): v for k, v in headers.items()}.get
    csp = get("content-security-policy") or ""
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, (where, csp)
    assert get("x-content-type-options") == "nosniff", where
    assert get("referrer-policy") == "no-referrer", where
    server = get("server") or ""
    assert "aiohttp" not in server.lower() and "python" not in server.lower(), (where, server)


async def test_every_answer_carries_the_security_headers(server, http, names):
    ann = await new_user(http, server.url, names())
    table = [("GET", "/", {}), ("GET", "/static/app.js", {}), ("GET", "/nope", {}), ("GET", "/api/nope", {}),
             ("GET", "/api/openapi.json", {}), ("GET", "/healthz", {}), ("DELETE", "/healthz", {}),
             ("GET", "/api/v1/me", {}), ("GET", "/static/missing.js", {})]
    statuses = {}
    for method, path, headers in table:
        async with http.request(method, server.url + path, headers=headers) as resp:
            statuses[path, method] = resp.status
            _check_headers(f"{method} {path} -> {resp.status}", resp.headers)
    assert statuses["/nope", "GET"] == 404 and statuses["/healthz", "DELETE"] == 405
    assert statuses["/api/v1/me", "GET"] == 401

    # The event stream is prepared inside its handler, after any middleware could add headers.
    async with http.get(server.url + "/api/v1/events", headers={"Authorization": f"Bearer {ann.token}"}) as resp:
        assert resp.status == 200
        _check_headers("SSE", resp.headers)

    # The WebSocket handshake, read off the wire.
    key = base64.b64encode(os.urandom(16)).decode()
    status, headers, _ = await _raw(server.port, (
        f"GET /ws?token={ann.token} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert status == 101
    _check_headers("WebSocket handshake", headers)
    assert server.tracebacks() == []


MALFORMED = [
    ("NUL in a header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Probe: a\x00b\r\n\r\n"),
    ("header line over 64 KiB", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Probe: " + b"a" * 70_000 + b"\r\n\r\n"),
    ("bad request line", b"GET /healthz HTTP/1.1 trailing\r\nHost: x\r\n\r\n"),
    ("bad header name", b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n"),
]


@pytest.mark.parametrize("what, request_bytes", MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_requests_get_json_and_no_traceback(server, what, request_bytes):
    status, headers, body = await _raw(server.port, request_bytes)
    assert 400 <= status < 500, (what, status, body[:200])
    assert headers.get("content-type", "").startswith("application/json"), (what, headers, body[:200])
    error = json.loads(body)["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    _check_headers(what, headers)
    assert server.tracebacks() == [], what


async def test_a_flood_of_malformed_requests_writes_at_most_a_line_or_two(server):
    before = server.log_path.read_text(errors="replace").count(MARKER)
    for _ in range(30):
        status, _, _ = await _raw(server.port, MALFORMED[0][1])
        assert status == 400
    logged = server.log_path.read_text(errors="replace").count(MARKER) - before
    # One line per 10 s at most, with a count of the rest; the test takes well under 20 s.
    assert logged <= 2, server.log()
    assert server.tracebacks() == []
