"""REST handlers of calls (issue 13): ICE servers with TURN credentials, a room's running call.
The signalling itself runs over /ws (`call_*` frames, docs/protocol.md)."""

from __future__ import annotations

from aiohttp import web

from parley.web.http import auth, ctx, json, room_id

routes = web.RouteTableDef()


@routes.get("/api/v1/calls/ice")
async def ice(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).calls.ice(user))


@routes.get(r"/api/v1/rooms/{room_id:\d+}/call")
async def current(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).calls.current(user, room_id(request)))
