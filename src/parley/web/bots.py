"""REST handlers of bots and webhooks (issue 12)."""

from __future__ import annotations

from aiohttp import web

from parley.core import api as req
from parley.core.errors import Invalid
from parley.web.http import auth, body, ctx, json, path_id, query, room_id

routes = web.RouteTableDef()
BOT = r"/api/v1/bots/{bot_id:\d+}"


def _bot_id(request: web.Request) -> int:
    return path_id(request, "bot_id", "the bot id")


@routes.post("/api/v1/bots")
async def create(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.BotCreateBody)
    bot, token = await ctx(request).bots.create(user, data.username, data.display_name)
    return json({"bot": bot, "token": token}, 201)


@routes.get("/api/v1/bots")
async def mine(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"bots": await ctx(request).bots.list(user)})


@routes.get(BOT)
async def get(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"bot": await ctx(request).bots.get(user, _bot_id(request))})


@routes.delete(BOT)
async def delete(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).bots.delete(user, _bot_id(request))
    return web.Response(status=204)


@routes.post(BOT + "/token")
async def rotate(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"token": await ctx(request).bots.rotate(user, _bot_id(request))})


@routes.put(BOT + "/commands")
async def commands(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.CommandsBody)
    return json({"commands": await ctx(request).bots.set_commands(user, _bot_id(request), data.commands)})


@routes.post(BOT + "/webhooks")
async def add_webhook(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.WebhookBody)
    found = await ctx(request).bots.create_webhook(user, _bot_id(request), data.url, list(data.events),
                                                   None if data.rooms is None else list(data.rooms))
    return json({"webhook": found}, 201)


@routes.get(BOT + "/webhooks")
async def webhooks(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"webhooks": await ctx(request).bots.webhooks(user, _bot_id(request))})


@routes.delete(BOT + r"/webhooks/{webhook_id:\d+}")
async def delete_webhook(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).bots.delete_webhook(user, _bot_id(request), path_id(request, "webhook_id", "the webhook id"))
    return web.Response(status=204)


@routes.get(BOT + "/deliveries")
async def deliveries(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.DeliveriesQuery)
    return json({"deliveries": await ctx(request).bots.deliveries(user, _bot_id(request), params.limit)})


@routes.post(BOT + "/hooks")
async def add_hook(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.HookBody)
    return json({"hook": await ctx(request).bots.create_hook(user, _bot_id(request), data.room)}, 201)


@routes.delete(BOT + r"/hooks/{hook_id:\d+}")
async def delete_hook(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).bots.delete_hook(user, _bot_id(request), path_id(request, "hook_id", "the hook id"))
    return web.Response(status=204)


@routes.post(r"/api/v1/hooks/{hook_id:\d+}/{secret}")
async def post_hook(request: web.Request) -> web.StreamResponse:
    """An incoming webhook: no session, the secret in the path is the credential."""
    hook_id = path_id(request, "hook_id", "the hook id")
    secret = request.match_info["secret"]
    if not secret or len(secret) > 100:
        raise Invalid("the hook secret is malformed")
    data = await body(request, req.HookPostBody)
    event = await ctx(request).bots.post_hook(hook_id, secret, data.text)
    return json(event.wire(), 201)


@routes.post(r"/api/v1/rooms/{room_id:\d+}/bots")
async def add_to_room(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.RoomBotBody)
    return json({"bot": await ctx(request).bots.add_to_room(user, room_id(request), data.bot_id)})


@routes.get(r"/api/v1/rooms/{room_id:\d+}/commands")
async def room_commands(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"commands": await ctx(request).bots.room_commands(user, room_id(request))})
