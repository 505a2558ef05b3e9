"""REST handlers of the spam filter (issue 11): the held-for-review queue, and its figures and
settings for the admin console (server admins only)."""

from __future__ import annotations

from aiohttp import web

from parley.core import api as req
from parley.web.http import auth, body, ctx, json, path_id, query

routes = web.RouteTableDef()


@routes.get("/api/v1/held")
async def held(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.HeldQuery)
    return json(await ctx(request).spam.list(user, params.given("room"), params.given("before"), params.limit))


@routes.get("/api/v1/me/held")
async def mine(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).spam.mine(user))


@routes.post(r"/api/v1/held/{held_id:\d+}/approve")
async def approve(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    event = await ctx(request).spam.approve(user, path_id(request, "held_id", "the held message id"))
    return json({"approved": True, "message": event.wire()})


@routes.post(r"/api/v1/held/{held_id:\d+}/reject")
async def reject(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).spam.reject(user, path_id(request, "held_id", "the held message id"))
    return json({"approved": False})


@routes.get("/api/v1/admin/spam")
async def figures(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).spam.figures(user))


@routes.put("/api/v1/admin/spam")
async def settings(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.SpamSettingsBody)
    return json(await ctx(request).spam.settings(user, data.given("hold"), data.given("reject"),
                                                 data.given("new_account_s")))
