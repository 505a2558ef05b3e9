"""The aiohttp application: routes, middleware, static files."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from parley.web import api, openapi, sse, ws
from parley.web.context import CTX, Context
from parley.web.middleware import errors, on_response_prepare
from parley.web.server import HANDLER_ARGS

STATIC = Path(__file__).resolve().parent.parent / "static"
APIDOCS = Path(__file__).resolve().parent / "apidocs"
MAX_BODY = 256 * 1024


async def _index(request: web.Request) -> web.StreamResponse:
    index = STATIC / "index.html"
    if not index.exists():
        raise web.HTTPNotFound(text="the web client is not installed")
    return web.FileResponse(index, headers={"Cache-Control": "no-cache"})


async def _apidocs(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(APIDOCS / "index.html")


def create(context: Context) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=MAX_BODY, handler_args=HANDLER_ARGS)
    app.on_response_prepare.append(on_response_prepare)
    app[CTX] = context
    app.add_routes(api.routes)
    app.add_routes(ws.routes)
    app.add_routes(sse.routes)
    app.add_routes(openapi.routes)
    app.router.add_get("/api/docs", _apidocs)
    app.router.add_static("/api/docs/", APIDOCS)
    app.router.add_get("/", _index)
    STATIC.mkdir(exist_ok=True)
    app.router.add_static("/static/", STATIC)
    return app
