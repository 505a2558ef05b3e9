"""Errors as JSON, security headers on every answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping

from aiohttp import web

from parley.core.errors import ParleyError
from parley.web.http import error_response, is_secure, json

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
              431: "headers_too_large"}


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ParleyError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        # The API and the media URLs (whose own 404s are JSON) answer errors in JSON, the router's too
        # (`/media/-1/x` matches no route); the web client's pages keep aiohttp's plain ones.
        if exc.status < 400 or not request.path.startswith(("/api", "/media/")):
            raise
        code = HTTP_CODES.get(exc.status, "error")
        response = json({"error": {"code": code, "message": exc.reason}}, exc.status)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except ConnectionResetError:
        # The client left (during a WebSocket handshake, say): nobody reads the answer, and its
        # writing fails quietly in aiohttp; 499 is nginx's "client closed request" in the metrics.
        return web.Response(status=499)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json({"error": {"code": "internal", "message": "internal server error"}}, 500)


SERVER = "Parley"  # no product versions for a scanner to match against


def security_headers(headers: MutableMapping[str, str], path: str, secure: bool) -> None:
    headers["Server"] = SERVER
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    csp = headers["Content-Security-Policy"]
    if "frame-ancestors" not in csp or "frame-ancestors 'none'" in csp:  # the support widget's page lists its sites
        headers.setdefault("X-Frame-Options", "DENY")
    if path.startswith("/api/v1") and "no-store" not in headers.get("Cache-Control", ""):
        headers["Cache-Control"] = "private, no-store"
    if secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """A signal, not a middleware: it also reaches answers made outside the handlers (the router's
    404 and 405, static files, streams and the WebSocket handshake prepared inside a handler)."""
    security_headers(response.headers, request.path, is_secure(request))
