"""Request and response helpers shared by the handlers."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web

from parley.core import api, proxies
from parley.core.errors import Forbidden, Invalid, NotFound, ParleyError, Unauthorized
from parley.core.models import Session, User
from parley.web.context import CTX, Context

COOKIE = "parley_session"
CSRF_HEADER = "X-Requested-With"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
T = TypeVar("T")


def ctx(request: web.Request) -> Context:
    return request.app[CTX]


def json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def error_response(exc: ParleyError) -> web.Response:
    response = json({"error": {"code": exc.code, "message": exc.message}}, exc.status)
    retry = getattr(exc, "retry_after", None)
    if retry is not None:
        response.headers["Retry-After"] = str(max(1, int(retry + 0.999)))
    return response


async def body(request: web.Request, type_: type[T]) -> T:
    """The JSON body decoded into one of the request structs of `core.api` (no body: `{}`)."""
    raw = await request.read() if request.body_exists else b""
    return api.decode_body(raw, type_)


def query(request: web.Request, type_: type[T]) -> T:
    """The query string decoded into one of the query structs of `core.api`."""
    return api.decode_query(list(request.query.items()), type_)


def room_id(request: web.Request) -> int:
    return path_id(request, "room_id", "the room id")


def path_id(request: web.Request, name: str, words: str) -> int:
    """An id in the path: at most `PATH_ID_DIGITS` ASCII digits (the OpenAPI document says so)."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > api.PATH_ID_DIGITS:
        raise Invalid(f"{words} must be a positive integer")
    return int(raw)


def from_trusted_proxy(request: web.Request) -> bool:
    """X-Forwarded-* count only with PARLEY_TRUST_PROXY on and from a PARLEY_TRUSTED_PROXIES peer:
    anyone reaching a node directly could write them."""
    settings = ctx(request).settings
    return settings.trust_proxy and proxies.is_trusted(request.remote or "", proxies.parse_networks(
        settings.trusted_proxies))


def client_ip(request: web.Request) -> str:
    peer = request.remote or ""
    if not from_trusted_proxy(request):
        return peer
    return proxies.client_address(peer, request.headers.getall("X-Forwarded-For", []),
                                  proxies.parse_networks(ctx(request).settings.trusted_proxies))


WS_PATH = "/ws"
GUEST_PATHS = ("/api/v1/support/me",)  # besides /ws and the event stream (customer service, issue 12)
EVENTS_PATH = "/api/v1/events"
Identity = tuple[User, Session]


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def _query(request: web.Request) -> str | None:
    return request.query.get("token")


def _cookie(request: web.Request) -> str | None:
    token = request.cookies.get(COOKIE)
    if token and request.method in _UNSAFE and not request.headers.get(CSRF_HEADER):
        raise Forbidden(f"cookie-authenticated writes need the header {CSRF_HEADER}: parley")
    return token


# Where each kind of request may carry its session token, in the order they are tried. A browser
# cannot set headers on a WebSocket or an EventSource, hence `?token=` there (and an `auth` first
# frame on the socket); REST takes no token in the URL, where logs and Referer would keep it.
# A bot or any non-browser client may also send `Authorization: Bearer` on the socket's handshake.
_SOURCES = {WS_PATH: (_bearer, _query, _cookie), EVENTS_PATH: (_bearer, _query, _cookie)}
_REST_SOURCES = (_bearer, _cookie)


async def authenticate(request: web.Request) -> Identity | None:
    """The caller's user and session, for every HTTP request, WebSocket and event stream: the one
    place that decides which credentials a request may use (docs/protocol.md, "Authentication").

    Cookie-authenticated writes must carry `X-Requested-With` (no cross-site form can). A token that
    is present but invalid is refused. With no token at all: None for a WebSocket, which may then
    authenticate with its first frame; `Unauthorized` for anything else."""
    for source in _SOURCES.get(request.path, _REST_SOURCES):
        token = source(request)
        if token:
            identity = await ctx(request).accounts.authenticate(token)
            if request.path not in _SOURCES and not request.path.startswith(GUEST_PATHS) \
                    and await ctx(request).support.is_guest(identity[0].id):
                raise NotFound("not found")  # a widget visitor's session reaches its conversation only
            return identity
    if request.path == WS_PATH:
        return None
    raise Unauthorized("log in first")


async def auth(request: web.Request) -> Identity:
    """`authenticate` for a REST handler, where a credential is required."""
    identity = await authenticate(request)
    assert identity is not None  # only a WebSocket may come without one
    return identity


def is_secure(request: web.Request) -> bool:
    """HTTPS, directly or at a trusted proxy that terminated TLS (X-Forwarded-Proto)."""
    if request.secure:
        return True
    return from_trusted_proxy(request) and request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def with_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> web.StreamResponse:
    response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", path="/", secure=is_secure(request),
                        max_age=ctx(request).settings.session_ttl_days * 86400)
    return response
