"""REST handlers under /api/v1: parse, call one service, shape the answer."""

from __future__ import annotations

from aiohttp import web

from parley.core.errors import Invalid
from parley.web.http import COOKIE, auth, body, client_ip, ctx, int_param, json, room_id, with_session_cookie

routes = web.RouteTableDef()


def _usernames(data: dict[str, object]) -> object:
    """`{"usernames": [...]}`, or `{"username": "..."}` for one."""
    return data.get("usernames", [data["username"]] if "username" in data else None)


def _session_answer(request: web.Request, user: object, token: str, status: int) -> web.StreamResponse:
    response = json({"user": user.private(), "token": token}, status)  # type: ignore[attr-defined]
    return with_session_cookie(response, request, token)


@routes.post("/api/v1/auth/register")
async def register(request: web.Request) -> web.StreamResponse:
    data = await body(request)
    user, token = await ctx(request).accounts.register(
        data.get("username"), data.get("password"), data.get("display_name"), client_ip=client_ip(request))
    return _session_answer(request, user, token, 201)


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.StreamResponse:
    data = await body(request)
    user, token = await ctx(request).accounts.login(data.get("username"), data.get("password"),
                                                    client_ip=client_ip(request))
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
    return json(user.private())


@routes.patch("/api/v1/me")
async def update_me(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request)
    if set(data) != {"display_name"}:
        raise Invalid("send display_name")
    return json((await ctx(request).accounts.update_profile(user, data["display_name"])).private())


@routes.post("/api/v1/me/password")
async def change_password(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request)
    token = await ctx(request).accounts.change_password(user, data.get("current_password"), data.get("new_password"))
    return _session_answer(request, user, token, 200)


@routes.get("/api/v1/users")
async def search_users(request: web.Request) -> web.StreamResponse:
    await auth(request)
    found = await ctx(request).accounts.search(request.query.get("q", ""), int_param(request, "limit", 20) or 20)
    return json({"users": [u.public() for u in found]})


@routes.get("/api/v1/rooms")
async def my_rooms(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"rooms": await ctx(request).rooms.mine(user)})


@routes.get("/api/v1/rooms/public")
async def public_rooms(request: web.Request) -> web.StreamResponse:
    await auth(request)
    found = await ctx(request).rooms.public(request.query.get("q", ""), int_param(request, "limit", 100) or 100)
    return json({"rooms": found})


@routes.post("/api/v1/rooms")
async def create_room(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request)
    room = await ctx(request).rooms.create(user, data.get("name"), data.get("topic", ""),
                                           data.get("visibility", "public"))
    return json(room, 201)


@routes.get(r"/api/v1/rooms/{room_id:\d+}")
async def get_room(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).rooms.get(user, room_id(request)))


@routes.patch(r"/api/v1/rooms/{room_id:\d+}")
async def update_room(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json(await ctx(request).rooms.update(user, room_id(request), await body(request)))


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
    data = await body(request)
    invited = await ctx(request).rooms.invite(user, room_id(request), _usernames(data))
    return json({"invited": invited})


@routes.get(r"/api/v1/rooms/{room_id:\d+}/members")
async def members(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json({"members": await ctx(request).rooms.members(user, room_id(request))})


@routes.patch(r"/api/v1/rooms/{room_id:\d+}/members/{user_id:\d+}")
async def set_role(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request)
    target = int(request.match_info["user_id"][:18])
    return json(await ctx(request).rooms.set_role(user, room_id(request), target, data.get("role")))


@routes.get(r"/api/v1/rooms/{room_id:\d+}/messages")
async def history(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    limit = int_param(request, "limit", 50)
    if limit is not None and not 1 <= limit <= 100:
        raise Invalid("limit must be 1 to 100")
    page = await ctx(request).messages.history(
        user, room_id(request), before=int_param(request, "before"), after=int_param(request, "after"),
        limit=limit or 50)
    return json(page)


@routes.post(r"/api/v1/rooms/{room_id:\d+}/messages")
async def post_message(request: web.Request) -> web.StreamResponse:
    user, session = await auth(request)
    data = await body(request)
    event, created = await ctx(request).messages.send(user, room_id(request), data.get("text"),
                                                      data.get("client_msg_id"), session_id=session.id)
    return json(event.wire(), 201 if created else 200)


@routes.post(r"/api/v1/rooms/{room_id:\d+}/read")
async def mark_read(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request)
    rid = room_id(request)
    seq = await ctx(request).messages.mark_read(user, rid, data.get("seq"))
    return json({"room": rid, "seq": seq})


@routes.post(r"/api/v1/rooms/{room_id:\d+}/typing")
async def typing(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    await ctx(request).messages.typing(user, room_id(request))
    return web.Response(status=204)


@routes.post("/api/v1/direct")
async def direct(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request)
    room, created = await ctx(request).rooms.direct(user, _usernames(data))
    return json(room, 201 if created else 200)


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.StreamResponse:
    return json({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.StreamResponse:
    ok = await ctx(request).db.ping()
    return json({"status": "ok" if ok else "unavailable", "database": ok}, 200 if ok else 503)

