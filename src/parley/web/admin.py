"""Server administration under /api/v1/admin (server admins only: 403 `forbidden` for anyone else),
and GET /api/v1/server, which anyone may read before signing up."""

from __future__ import annotations

from aiohttp import web

from parley.core import api as req
from parley.web.http import auth, body, ctx, json, path_id, query

routes = web.RouteTableDef()


@routes.get("/api/v1/server")
async def server(request: web.Request) -> web.StreamResponse:
    # What becomes of a deleted account's messages: the client says so before one deletes one's own.
    deleted = ctx(request).settings.deleted_account_messages.lower()
    # The server's own assistant (issue 12), which room admins add to rooms and people chat with.
    assistant = (await ctx(request).support.assistant_account()).public()
    return json({**await ctx(request).admin.server(), "deleted_account_messages": deleted,
                 "assistant": assistant})


@routes.get("/api/v1/admin/users")
async def users(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.AdminListQuery)
    return json(await ctx(request).admin.users(user, params.q, params.given("before"), params.limit))


@routes.patch(r"/api/v1/admin/users/{user_id:\d+}")
async def update_user(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.AdminUserBody)
    target = path_id(request, "user_id", "the user id")
    changed = await ctx(request).admin.update_user(user, target, disabled=data.given("disabled"),
                                                   is_admin=data.given("is_admin"))
    return json(changed)


@routes.get("/api/v1/admin/rooms")
async def rooms(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.AdminListQuery)
    return json(await ctx(request).admin.rooms(user, params.q, params.given("before"), params.limit))


@routes.get("/api/v1/admin/registration")
async def registration(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).admin.registration(user))


@routes.put("/api/v1/admin/registration")
async def set_registration(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.RegistrationBody)
    return json(await ctx(request).admin.set_registration(user, data.mode))


@routes.get("/api/v1/admin/invites")
async def invites(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"invites": await ctx(request).admin.invites(user)})


@routes.post("/api/v1/admin/invites")
async def create_invite(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.InviteCreateBody)
    return json({"invite": await ctx(request).admin.create_invite(user, data.uses, data.expires_in_s)}, 201)


@routes.delete("/api/v1/admin/invites/{code}")
async def revoke_invite(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).admin.revoke_invite(user, request.match_info["code"])
    return web.Response(status=204)


@routes.get("/api/v1/admin/stats")
async def stats(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).admin.stats(user))
