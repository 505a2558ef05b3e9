"""REST handlers of blocking (issue 11): my block list, block, unblock."""

from __future__ import annotations

from aiohttp import web

from parley.web.http import auth, ctx, json, path_id

routes = web.RouteTableDef()
BLOCK = r"/api/v1/me/blocks/{user_id:\d+}"


@routes.get("/api/v1/me/blocks")
async def listed(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"blocks": await ctx(request).blocks.listed(user)})


@routes.put(BLOCK)
async def block(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).blocks.block(user, path_id(request, "user_id", "the user id"))
    return web.Response(status=204)


@routes.delete(BLOCK)
async def unblock(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).blocks.unblock(user, path_id(request, "user_id", "the user id"))
    return web.Response(status=204)
