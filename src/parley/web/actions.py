"""REST handlers of the message actions (issue 10): edit, delete, versions, reactions, pins, threads."""

from __future__ import annotations

from aiohttp import web

from parley.core import api as req
from parley.core.errors import Invalid
from parley.web.http import auth, body, ctx, json, path_id, query, room_id

routes = web.RouteTableDef()
MESSAGE = r"/api/v1/rooms/{room_id:\d+}/messages/{seq:\d+}"
EMOJI_PATH_MAX = 256  # characters of the percent-encoded emoji in a path


def _seq(request: web.Request, name: str = "seq") -> int:
    return path_id(request, name, f"the {name}")


def _emoji(request: web.Request) -> str:
    """The emoji of the path, percent-decoded by aiohttp; the service checks it is one emoji."""
    raw = request.match_info["emoji"]
    if len(raw) > EMOJI_PATH_MAX:
        raise Invalid("emoji must be exactly one Unicode emoji")
    return raw


@routes.patch(MESSAGE)
async def edit(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.EditBody)
    view, _ = await ctx(request).actions.edit(user, room_id(request), _seq(request), data.text)
    return json(view)


@routes.delete(MESSAGE)
async def delete(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    as_spam = query(request, req.DeleteQuery).given("reason") == "spam"
    await ctx(request).actions.delete(user, room_id(request), _seq(request), as_spam=as_spam)
    return web.Response(status=204)


@routes.get(MESSAGE + "/versions")
async def versions(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).actions.versions(user, room_id(request), _seq(request)))


@routes.put(MESSAGE + "/reactions/{emoji}")
async def react(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).actions.react(user, room_id(request), _seq(request), _emoji(request), True)
    return web.Response(status=204)


@routes.delete(MESSAGE + "/reactions/{emoji}")
async def unreact(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).actions.react(user, room_id(request), _seq(request), _emoji(request), False)
    return web.Response(status=204)


@routes.get(r"/api/v1/rooms/{room_id:\d+}/pins")
async def pins(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).actions.pins(user, room_id(request)))


@routes.put(r"/api/v1/rooms/{room_id:\d+}/pins/{seq:\d+}")
async def pin(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).actions.pin(user, room_id(request), _seq(request), True)
    return web.Response(status=204)


@routes.delete(r"/api/v1/rooms/{room_id:\d+}/pins/{seq:\d+}")
async def unpin(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).actions.pin(user, room_id(request), _seq(request), False)
    return web.Response(status=204)


@routes.get(r"/api/v1/rooms/{room_id:\d+}/threads/{seq:\d+}")
async def thread(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.ThreadQuery)
    return json(await ctx(request).actions.thread(user, room_id(request), _seq(request), params.after,
                                                  params.limit))
