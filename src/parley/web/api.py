"""REST handlers under /api/v1: parse, call one service, shape the answer."""

from __future__ import annotations

from aiohttp import web

from parley.core import api as req
from parley.web.http import (
    COOKIE,
    auth,
    body,
    client_ip,
    ctx,
    json,
    path_id,
    query,
    room_id,
    with_session_cookie,
)

routes = web.RouteTableDef()


def _session_answer(request: web.Request, user: object, token: str, status: int) -> web.StreamResponse:
    response = json({"user": user.private(), "token": token}, status)  # type: ignore[attr-defined]
    return with_session_cookie(response, request, token)


@routes.post("/api/v1/auth/register")
async def register(request: web.Request) -> web.StreamResponse:
    data = await body(request, req.RegisterBody)
    user, token = await ctx(request).accounts.register(
        data.username, data.password, data.display_name, client_ip=client_ip(request), invite=data.invite)
    return _session_answer(request, user, token, 201)


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.StreamResponse:
    data = await body(request, req.LoginBody)
    user, token = await ctx(request).accounts.login(data.username, data.password, client_ip=client_ip(request))
    return _session_answer(request, user, token, 200)


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    _, session = await auth(request)
    await ctx(request).accounts.logout(session)
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({**user.private(), "blocked": await ctx(request).blocks.ids(user)})


@routes.patch("/api/v1/me")
async def update_me(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.ProfileBody)
    changed = await ctx(request).accounts.update_profile(user, data.given("display_name"), status=data.given("status"))
    return json(changed.private())


@routes.post("/api/v1/me/password")
async def change_password(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.PasswordBody)
    token = await ctx(request).accounts.change_password(user, data.current_password, data.new_password)
    return _session_answer(request, user, token, 200)


@routes.get("/api/v1/users")
async def search_users(request: web.Request) -> web.StreamResponse:
    await auth(request)
    params = query(request, req.UserQuery)
    found = await ctx(request).accounts.search(params.q, params.limit)
    return json({"users": [u.profile() for u in found]})


@routes.get("/api/v1/rooms")
async def my_rooms(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"rooms": await ctx(request).rooms.mine(user)})


@routes.get("/api/v1/rooms/public")
async def public_rooms(request: web.Request) -> web.StreamResponse:
    await auth(request)
    params = query(request, req.PublicRoomsQuery)
    found = await ctx(request).rooms.public(params.q, params.limit)
    return json({"rooms": found})


@routes.post("/api/v1/rooms")
async def create_room(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.RoomCreateBody)
    room = await ctx(request).rooms.create(user, data.name, data.topic, data.visibility)
    return json(room, 201)


@routes.get(r"/api/v1/rooms/{room_id:\d+}")
async def get_room(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).rooms.get(user, room_id(request)))


@routes.patch(r"/api/v1/rooms/{room_id:\d+}")
async def update_room(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.RoomUpdateBody)
    return json(await ctx(request).rooms.update(user, room_id(request), data.changes()))


@routes.post(r"/api/v1/rooms/{room_id:\d+}/join")
async def join_room(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).rooms.join(user, room_id(request)))


@routes.post(r"/api/v1/rooms/{room_id:\d+}/leave")
async def leave_room(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).rooms.leave(user, room_id(request))
    return web.Response(status=204)


@routes.post(r"/api/v1/rooms/{room_id:\d+}/invite")
async def invite(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.InviteBody)
    invited = await ctx(request).rooms.invite(user, room_id(request), data.names())
    return json({"invited": invited})


@routes.get(r"/api/v1/rooms/{room_id:\d+}/members")
async def members(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"members": await ctx(request).rooms.members(user, room_id(request))})


@routes.patch(r"/api/v1/rooms/{room_id:\d+}/members/{user_id:\d+}")
async def set_role(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.RoleBody)
    target = path_id(request, "user_id", "the user id")
    return json(await ctx(request).rooms.set_role(user, room_id(request), target, data.role))


@routes.get(r"/api/v1/rooms/{room_id:\d+}/messages")
async def history(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.HistoryQuery)
    page = await ctx(request).messages.history(
        user, room_id(request), before=params.given("before"), after=params.given("after"),
        around=params.given("around"), limit=params.limit)
    return json(page)


@routes.post(r"/api/v1/rooms/{room_id:\d+}/messages")
async def post_message(request: web.Request) -> web.StreamResponse:
    user, session = await auth(request)
    data = await body(request, req.MessageBody)
    event, created = await ctx(request).messages.send(user, room_id(request), data.text, data.client_msg_id,
                                                      session_id=session.id, attachments=data.attachments,
                                                      reply_to=data.reply_to, thread_root=data.thread_root)
    return json(event.wire(), 201 if created else 200)


@routes.post(r"/api/v1/rooms/{room_id:\d+}/read")
async def mark_read(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.ReadBody)
    rid = room_id(request)
    seq = await ctx(request).messages.mark_read(user, rid, data.seq)
    return json({"room": rid, "seq": seq})


@routes.post(r"/api/v1/rooms/{room_id:\d+}/typing")
async def typing(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).messages.typing(user, room_id(request))
    return web.Response(status=204)


@routes.post("/api/v1/direct")
async def direct(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.DirectBody)
    room, created = await ctx(request).rooms.direct(user, data.names())
    return json(room, 201 if created else 200)


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.StreamResponse:
    return json({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.StreamResponse:
    ok = await ctx(request).db.ping()
    return json({"status": "ok" if ok else "unavailable", "database": ok}, 200 if ok else 503)

