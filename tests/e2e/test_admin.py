"""Server administration against a real server: disabling closes a user's socket at once, invite-only
registration over real HTTP, and a server admin managing a room they are not in."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.client import Api, ApiError, Socket

ADMIN_PASSWORD = "the admin's long secret"


async def _admin(http, server) -> Api:
    """The module server's first account, hence its server admin (registered by the first test)."""
    api = Api(http, server.url)
    try:
        return await api.register("boss", ADMIN_PASSWORD)
    except ApiError as exc:
        assert exc.code == "conflict", exc.body
    answer = await api.call("POST", "/api/v1/auth/login", {"username": "boss", "password": ADMIN_PASSWORD})
    api.token, api.user = answer["token"], answer["user"]
    assert api.user["is_admin"]
    return api


async def test_disabling_a_user_closes_their_socket_at_once(server, http, names):
    boss = await _admin(http, server)
    bob = await Api(http, server.url).register(names("bob"))
    with pytest.raises(ApiError) as refused:
        await bob.call("GET", "/api/v1/admin/users", expect=200)
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    sock = await Socket.open(http, server.url, bob.token)

    changed = await boss.call("PATCH", f"/api/v1/admin/users/{bob.user['id']}", {"disabled": True})
    started = time.monotonic()
    assert changed["disabled"] is True
    await asyncio.wait_for(sock.closed.wait(), 5)
    closed_after = time.monotonic() - started
    assert sock.ws.close_code == 4001
    # Published before the answer (the bus), not found by the revocation log's 1 s poll.
    assert closed_after < 0.5, f"the socket closed {closed_after:.2f} s after the PATCH answered"
    with pytest.raises(ApiError) as gone:
        await bob.call("GET", "/api/v1/me", expect=200)
    assert gone.value.status == 401
    with pytest.raises(ApiError):
        await Api(http, server.url).call("POST", "/api/v1/auth/login", {"username": bob.user["username"],
                                                                       "password": "a long enough secret"}, expect=200)
    await boss.call("PATCH", f"/api/v1/admin/users/{bob.user['id']}", {"disabled": False})
    await Api(http, server.url).call("POST", "/api/v1/auth/login", {"username": bob.user["username"],
                                                                   "password": "a long enough secret"}, expect=200)


async def test_registering_with_an_invite_code_over_http(server, http, names):
    boss = await _admin(http, server)
    anonymous = Api(http, server.url)
    try:
        await boss.call("PUT", "/api/v1/admin/registration", {"mode": "invite"})
        about = await anonymous.call("GET", "/api/v1/server", expect=200)
        assistant = about.pop("assistant")  # the server's own bot (issue 12), for "Add bot"
        assert assistant["bot"] is True and assistant["username"].startswith("assistant")
        assert about == {"registration": "invite", "version": "1", "deleted_account_messages": "keep"}
        with pytest.raises(ApiError) as refused:
            await Api(http, server.url).register(names("cat"))
        assert (refused.value.status, refused.value.code) == (403, "invite_required")
        invite = (await boss.call("POST", "/api/v1/admin/invites", {"uses": 1, "expires_in_s": 600}))["invite"]
        cat = await Api(http, server.url).register(names("cat"), invite=invite["code"])
        assert cat.user["is_admin"] is False
        with pytest.raises(ApiError) as spent:
            await Api(http, server.url).register(names("dan"), invite=invite["code"])
        assert (spent.value.status, spent.value.code) == (403, "invite_used")

        await boss.call("PUT", "/api/v1/admin/registration", {"mode": "closed"})
        with pytest.raises(ApiError) as closed:
            await Api(http, server.url).register(names("eve"))
        assert (closed.value.status, closed.value.code) == (403, "registration_closed")
    finally:
        await boss.call("PUT", "/api/v1/admin/registration", {"mode": "open"})


async def test_a_server_admin_manages_a_private_room_without_joining_it(server, http, names):
    boss = await _admin(http, server)
    owner, mate = await Api(http, server.url).register(names("own")), await Api(http, server.url).register(names("m"))
    room = await owner.create_room(names("secret"), visibility="private")
    await owner.call("POST", f"/api/v1/rooms/{room['id']}/invite", {"usernames": [mate.user["username"]]})
    await mate.join(room["id"])

    listed = (await boss.call("GET", f"/api/v1/admin/rooms?q={room['name']}"))["rooms"]
    assert [(r["id"], r["member_count"], r["owners"][0]["id"]) for r in listed] == [(room["id"], 2, owner.user["id"])]
    changed = await boss.call("PATCH", f"/api/v1/rooms/{room['id']}", {"topic": "set by the server admin"})
    assert changed["topic"] == "set by the server admin"
    members = (await boss.call("GET", f"/api/v1/rooms/{room['id']}/members"))["members"]
    assert {m["user"]["id"] for m in members} == {owner.user["id"], mate.user["id"]}
    named = await boss.call("PATCH", f"/api/v1/rooms/{room['id']}/members/{mate.user['id']}", {"role": "owner"})
    assert named["role"] == "owner"
    with pytest.raises(ApiError) as history:
        await boss.history(room["id"])
    assert history.value.status == 404  # managing is not reading
