"""REST handlers of room moderation (issue 11): kick, bans, mutes, and a server admin's purge."""

from __future__ import annotations

from aiohttp import web

from parley.core import api as req
from parley.web.http import auth, body, ctx, json, path_id, room_id

routes = web.RouteTableDef()
ROOM = r"/api/v1/rooms/{room_id:\d+}"


def _user_id(request: web.Request) -> int:
    return path_id(request, "user_id", "the user id")


@routes.post(ROOM + r"/members/{user_id:\d+}/kick")
async def kick(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.KickBody)
    await ctx(request).moderation.kick(user, room_id(request), _user_id(request), data.reason)
    return web.Response(status=204)


@routes.get(ROOM + "/bans")
async def bans(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"bans": await ctx(request).moderation.bans(user, room_id(request))})


@routes.post(ROOM + "/bans")
async def ban(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.BanBody)
    found = await ctx(request).moderation.ban(user, room_id(request), data.user_id, data.reason, data.duration_s)
    return json({"ban": found}, 201)


@routes.delete(ROOM + r"/bans/{user_id:\d+}")
async def unban(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).moderation.unban(user, room_id(request), _user_id(request))
    return web.Response(status=204)


@routes.post(ROOM + "/mutes")
async def mute(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.MuteBody)
    return json(await ctx(request).moderation.mute(user, room_id(request), data.user_id, data.duration_s,
                                                   data.reason))


@routes.delete(ROOM + r"/mutes/{user_id:\d+}")
async def unmute(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).moderation.unmute(user, room_id(request), _user_id(request))
    return web.Response(status=204)


@routes.post(r"/api/v1/admin/users/{user_id:\d+}/purge")
async def purge(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.PurgeBody)
    return json(await ctx(request).moderation.purge(user, _user_id(request), data.since_s))
