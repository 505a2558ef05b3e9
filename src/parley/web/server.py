"""aiohttp's own HTTP layer: the header limits, and the answer to requests it cannot parse.

A request aiohttp cannot parse (a NUL in a header, a line over the limit, a bad request line)
never reaches the application's middleware: aiohttp answers it in `RequestHandler.handle_error`
with plain text and logs a full traceback at ERROR, so anyone could flood the log. aiohttp has
no setting for the handler class, so the runner here swaps in a subclass that answers with the
JSON error shape and the security headers, and logs such requests in one line at most every
`LOG_EVERY_S` seconds, with a count.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import ssl
import time
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from parley.web.middleware import HTTP_CODES, security_headers

log = logging.getLogger(__name__)
# Request line and each header up to 64 KiB (aiohttp's default is 8,190 bytes): cursor tokens of
# users in thousands of rooms travel in `Last-Event-ID` and `/ws?resume=`. nginx must match
# (deploy/nginx.conf, large_client_header_buffers).
MAX_LINE = 64 * 1024
HANDLER_ARGS: dict[str, Any] = {"max_line_size": MAX_LINE, "max_field_size": MAX_LINE}
LOG_EVERY_S = 10.0


class _Throttled:
    """At most one log line per period; the lines left out are counted in the next one."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.last = -period
        self.skipped = 0

    def log(self, remote: str | None, status: int, reason: str) -> None:
        now = time.monotonic()
        if now - self.last < self.period:
            self.skipped += 1
            return
        self.last, skipped, self.skipped = now, self.skipped, 0
        log.warning("refused a malformed request from %s: %s %s (%d more not logged in the last %.0f s)",
                    remote, status, reason, skipped, self.period)


_bad_requests = _Throttled(LOG_EVERY_S)


def _reason(status: int, exc: BaseException | None, message: str | None) -> str:
    text = str(getattr(exc, "message", "") or message or HTTPStatus(status).phrase)
    return (text.strip().splitlines() or [HTTPStatus(status).phrase])[0][:200]


class _Handler(RequestHandler):
    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500 or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)  # a real fault: keep its traceback
        reason = _reason(status, exc, message)
        _bad_requests.log(request.remote, status, reason)
        body = {"error": {"code": HTTP_CODES.get(status, "bad_request"), "message": reason}}
        response = web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
        security_headers(response.headers, "", secure=False)
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _Handler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server  # the same object; only the protocol factory differs
        return server


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """HTTPS and WSS served directly: TLS 1.2 or later, Python's default ciphers (forward secrecy,
    AEAD), HTTP/1.1 (a WebSocket upgrade needs it). Raises OSError or ssl.SSLError when the files
    cannot be read or do not match."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    context.set_alpn_protocols(["http/1.1"])
    return context


def serve(app: web.Application, host: str, port: int, shutdown_timeout: float = 5.0,
          tls: ssl.SSLContext | None = None, backlog: int = 4096) -> None:
    """`web.run_app` with this module's runner; SIGINT and SIGTERM stop it gracefully. The runner's
    cleanup closes the listening socket first, then runs `on_shutdown` (web/app.py `_going_away`:
    the send queue drains, live connections close with 1001), then waits for the handlers. With
    `tls`, the socket speaks HTTPS (and WSS); responses then carry HSTS (web/middleware.py)."""
    asyncio.run(_serve(app, host, port, shutdown_timeout, tls, backlog))


async def _serve(app: web.Application, host: str, port: int, shutdown_timeout: float,
                 tls: ssl.SSLContext | None = None, backlog: int = 4096) -> None:
    runner = AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    # Everything built until now (modules, the app, the spam model: ~200,000 objects) lives as long
    # as the process. Frozen, the cyclic collector no longer walks it: its full collections, each a
    # pause of the event loop for every socket, went from 80-240 ms to under 10 ms
    # (docs/performance.md, "Pauses of the garbage collector").
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, host, port, ssl_context=tls, backlog=backlog).start()
        await stop.wait()
    finally:
        await runner.cleanup()
