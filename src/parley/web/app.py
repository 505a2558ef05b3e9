"""The aiohttp application: routes, middleware, static files."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from parley.web import (
    actions,
    admin,
    api,
    audit,
    blocks,
    bots,
    calls,
    live,
    metrics,
    moderation,
    openapi,
    privacy,
    reports,
    search,
    spam,
    sse,
    support,
    uploads,
    ws,
)
from parley.web.context import CTX, Context
from parley.web.middleware import errors, on_response_prepare
from parley.web.server import HANDLER_ARGS

STATIC = Path(__file__).resolve().parent.parent / "static"
APIDOCS = Path(__file__).resolve().parent / "apidocs"
MAX_BODY = 256 * 1024
SHUTDOWN_CLOSE_S = 5.0


async def _index(request: web.Request) -> web.StreamResponse:
    index = STATIC / "index.html"
    if not index.exists():
        raise web.HTTPNotFound(text="the web client is not installed")
    return web.FileResponse(index, headers={"Cache-Control": "no-cache"})


async def _admin(request: web.Request) -> web.StreamResponse:
    """`/admin` is the client's admin console, a route of its own (`#/admin`)."""
    raise web.HTTPFound("/#/admin")


async def _apidocs(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(APIDOCS / "index.html")


async def _going_away(app: web.Application) -> None:
    """Shutdown, once the listening socket is closed (aiohttp runs `on_shutdown` after that, and
    before it cancels the handlers still running): sends already accepted are committed and
    answered, later ones refused with `unavailable`; then every WebSocket is closed with 1001
    "going away" and every event stream ended, each after its own answers went out."""
    await app[CTX].messages.stop()
    await live.close_all(app, SHUTDOWN_CLOSE_S)


def create(context: Context) -> web.Application:
    app = web.Application(middlewares=[metrics.request_id, errors], client_max_size=MAX_BODY, handler_args=HANDLER_ARGS)
    app.on_response_prepare.append(on_response_prepare)
    app[CTX] = context
    app[live.LIVE] = set()
    app.on_shutdown.append(_going_away)
    app.add_routes(api.routes)
    app.add_routes(uploads.routes)
    app.add_routes(actions.routes)
    app.add_routes(search.routes)
    app.add_routes(reports.routes)
    app.add_routes(blocks.routes)
    app.add_routes(calls.routes)
    app.add_routes(audit.routes)
    app.add_routes(moderation.routes)
    app.add_routes(spam.routes)
    app.add_routes(privacy.routes)
    app.add_routes(admin.routes)
    app.add_routes(support.routes)
    app.add_routes(bots.routes)
    app.add_routes(ws.routes)
    app.add_routes(sse.routes)
    app.add_routes(openapi.routes)
    metrics.install(app)
    app.router.add_get("/api/docs", _apidocs)
    app.router.add_static("/api/docs/", APIDOCS)
    app.router.add_get("/", _index)
    app.router.add_get("/admin", _admin)
    STATIC.mkdir(exist_ok=True)
    app.router.add_static("/static/", STATIC)
    return app
