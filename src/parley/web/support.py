"""REST handlers of customer service (issue 12): a support room's knowledge base and queue for its
agents, the widget's guest endpoints, `/widget.js` and the widget's page (served in an iframe)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from parley.core import api as req
from parley.core.errors import Forbidden
from parley.web.http import (
    CSRF_HEADER,
    auth,
    body,
    client_ip,
    ctx,
    from_trusted_proxy,
    is_secure,
    json,
    path_id,
    query,
    room_id,
)

routes = web.RouteTableDef()
STATIC = Path(__file__).resolve().parent.parent / "static"
_STATES = {"open": ("bot", "waiting", "taken"), "resolved": ("resolved",),
           "all": ("bot", "waiting", "taken", "resolved")}

# The widget's page: strict like every page of Parley, except that the configured sites may frame it.
WIDGET_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'self'{origins}")
WIDGET_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Support</title><link rel="stylesheet" href="/static/support/widget.css">
<script type="module" src="/static/support/widget-app.js"></script></head>
<body data-room="{room}"><main id="widget"></main></body></html>
"""
DESK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Support desk</title><link rel="icon" href="/static/icon.svg">
<link rel="stylesheet" href="/static/app.css"><link rel="stylesheet" href="/static/support/desk.css">
<script type="module" src="/static/support/desk.js"></script></head>
<body data-room="{room}"><main id="desk" class="support-view"></main></body></html>
"""


# -- the support room's admins and agents -------------------------------------------------------------


@routes.get(r"/api/v1/rooms/{room_id:\d+}/support")
async def settings(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).support.settings(user, room_id(request)))


@routes.post(r"/api/v1/rooms/{room_id:\d+}/support")
async def enable(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    answer = await ctx(request).support.enable(user, room_id(request))
    return json({k: v for k, v in answer.items() if k != "created"}, 201 if answer["created"] else 200)


@routes.get(r"/api/v1/rooms/{room_id:\d+}/support/entries")
async def entries(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).support.entries(user, room_id(request)))


@routes.post(r"/api/v1/rooms/{room_id:\d+}/support/entries")
async def add_entry(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.SupportEntryBody)
    return json(await ctx(request).support.add_entry(user, room_id(request), data.title, data.answer, data.tags), 201)


@routes.post(r"/api/v1/rooms/{room_id:\d+}/support/import")
async def import_entries(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.SupportImportBody)
    return json(await ctx(request).support.import_entries(user, room_id(request), data.format, data.text), 201)


@routes.put(r"/api/v1/rooms/{room_id:\d+}/support/entries/{entry_id:\d+}")
async def update_entry(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.SupportEntryBody)
    entry_id = path_id(request, "entry_id", "the entry id")
    return json(await ctx(request).support.update_entry(user, room_id(request), entry_id, data.title, data.answer,
                                                        data.tags))


@routes.delete(r"/api/v1/rooms/{room_id:\d+}/support/entries/{entry_id:\d+}")
async def delete_entry(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).support.delete_entry(user, room_id(request), path_id(request, "entry_id", "the entry id"))
    return web.Response(status=204)


@routes.get(r"/api/v1/rooms/{room_id:\d+}/support/try")
async def try_question(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.SupportTryQuery)
    return json(await ctx(request).support.try_question(user, room_id(request), params.q))


@routes.get(r"/api/v1/rooms/{room_id:\d+}/support/conversations")
async def conversations(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.SupportQueueQuery)
    return json(await ctx(request).support.queue(user, room_id(request), _STATES[params.state]))


@routes.post(r"/api/v1/support/conversations/{conversation_id:\d+}/take")
async def take(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).support.take(user, path_id(request, "conversation_id", "the conversation id")))


@routes.post(r"/api/v1/support/conversations/{conversation_id:\d+}/resolve")
async def resolve(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).support.resolve(user, path_id(request, "conversation_id", "the conversation id")))


# -- the widget's visitor -----------------------------------------------------------------------------


@routes.post(r"/api/v1/support/rooms/{room_id:\d+}/visit")
async def visit(request: web.Request) -> web.StreamResponse:
    """A new visitor: no credentials, but the header no cross-site form can send."""
    if not request.headers.get(CSRF_HEADER):
        raise Forbidden(f"the widget sends the header {CSRF_HEADER}: parley")
    return json(await ctx(request).support.start(room_id(request), client_ip(request)), 201)


@routes.get("/api/v1/support/me")
async def mine(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).support.mine(user))


@routes.post("/api/v1/support/me/messages")
async def ask(request: web.Request) -> web.StreamResponse:
    user, session = await auth(request)
    data = await body(request, req.SupportMessageBody)
    answer = await ctx(request).support.ask(user, data.text, data.client_msg_id, session.id, desk_base(request))
    return json(answer, 201 if answer["created"] else 200)


@routes.post("/api/v1/support/me/handover")
async def handover(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).support.handover(user, desk_base(request)))


# -- the embed script and the widget's page -------------------------------------------------------------


@routes.get(r"/support/desk/{room_id:\d+}")
async def desk_page(request: web.Request) -> web.StreamResponse:
    """The agents' desk: a page of its own (the session cookie), with Parley's strict headers."""
    return web.Response(text=DESK_PAGE.replace("{room}", str(room_id(request))), content_type="text/html",
                        headers={"Cache-Control": "no-cache"})


def desk_base(request: web.Request) -> str:
    """This server's address as the browser sees it, for the desk link the assistant posts."""
    host = request.headers.get("X-Forwarded-Host") if from_trusted_proxy(request) else None
    return f"{'https' if is_secure(request) else 'http'}://{host or request.host}"


@routes.get("/widget.js")
async def widget_js(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "support" / "widget.js", headers={
        "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=300",
        "Cross-Origin-Resource-Policy": "cross-origin"})


@routes.get(r"/support/widget/{room_id:\d+}")
async def widget_page(request: web.Request) -> web.StreamResponse:
    origins = "".join(f" {o}" for o in ctx(request).settings.support_origin_list)
    page = WIDGET_PAGE.replace("{room}", str(room_id(request)))
    return web.Response(text=page, content_type="text/html", headers={
        "Content-Security-Policy": WIDGET_CSP.format(origins=origins), "Cache-Control": "no-cache"})
