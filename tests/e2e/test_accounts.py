"""Accounts and sessions over HTTP and WebSocket, as a browser and as an API client."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import aiohttp
import pytest

from tests.conftest import new_user
from tests.support.client import Api, ApiError, Socket


async def test_register_rules(server, http, names):
    name = names("Case")
    api = await new_user(http, server.url, name, display_name="王小明 🐉")
    assert api.user["display_name"] == "王小明 🐉"
    for body, field in [
        ({"username": name.lower(), "password": "another fine secret"}, None),  # taken, ignoring case
        ({"username": "ab", "password": "another fine secret"}, "username"),
        ({"username": "bad name!", "password": "another fine secret"}, "username"),
        ({"username": names(), "password": "short"}, "password"),
        ({"username": names(), "password": "password123"}, "password"),  # in the common list
        ({"username": names(), "password": "x" * 257}, "password"),
        ({"username": names(), "password": "fine secret here", "display_name": "d" * 65}, "display_name"),
    ]:
        with pytest.raises(ApiError) as err:
            await Api(http, server.url).call("POST", "/api/v1/auth/register", body)
        if field is None:
            assert err.value.status == 409
        else:
            assert err.value.status == 422 and field in err.value.body["error"]["message"]


@pytest.mark.parametrize(("hidden", "why"), [
    ("Ann\u200bLee", "must not contain invisible or formatting characters"),
    ("\u3164", "must not contain invisible or formatting characters"),
    ("\u200b\u200b", "must not contain invisible or formatting characters"),
    ("\u2800", "must not contain invisible or formatting characters"),
    ("\u200d\u200c", "must not contain invisible or formatting characters"),
    ("Ann\u200f", "must not contain invisible or formatting characters"),
    ("\ufeffAnn", "must not contain invisible or formatting characters"),
    ("Ann\U000e0041", "must not contain invisible or formatting characters"),
    ("An\u00adn", "must not contain invisible or formatting characters"),
    ("\u20e3", "must contain a visible character"),
])
async def test_names_with_hidden_characters_are_refused_over_http(server, http, names, hidden, why):
    api = await new_user(http, server.url, names(), display_name="Ann Lee")
    with pytest.raises(ApiError) as err:
        await api.call("PATCH", "/api/v1/me", {"display_name": hidden})
    assert (err.value.status, err.value.code) == (422, "invalid")
    assert err.value.body["error"]["message"] == f"display_name {why}"
    with pytest.raises(ApiError) as err:
        await Api(http, server.url).call("POST", "/api/v1/auth/register",
                                         {"username": names(), "password": "fine secret here", "display_name": hidden})
    assert (err.value.status, err.value.body["error"]["message"]) == (422, f"display_name {why}")
    with pytest.raises(ApiError) as err:
        await api.create_room(hidden)
    assert (err.value.status, err.value.body["error"]["message"]) == (422, f"name {why}")
    room = await api.create_room(names("fine"))  # public names are unique on this shared server
    with pytest.raises(ApiError) as err:
        await api.call("PATCH", f"/api/v1/rooms/{room['id']}", {"name": hidden})
    assert (err.value.status, err.value.code) == (422, "invalid")
    assert (await api.call("GET", "/api/v1/me"))["display_name"] == "Ann Lee"


async def test_display_name_cannot_read_as_another_users_username_over_http(server, http, names):
    alice, bob = names("alice"), names("bob")
    await new_user(http, server.url, alice)
    api = await new_user(http, server.url, bob)
    for posing in (alice.upper(), f"@{alice}", alice.replace("a", "\u0430", 1)):
        with pytest.raises(ApiError) as err:
            await api.call("PATCH", "/api/v1/me", {"display_name": posing})
        assert (err.value.status, err.value.code) == (409, "conflict")
        assert "display_name" in err.value.body["error"]["message"]
    # Emoji sequences, flags and every script stay usable.
    for fine in ("\U0001f469\u200d\U0001f4bb \u5f20\u4f1f", "\U0001f1e8\U0001f1f3 \u0645\u062d\u0645\u062f", "Ann Lee"):
        assert (await api.call("PATCH", "/api/v1/me", {"display_name": fine}))["display_name"] == fine


async def test_login_failure_does_not_say_whether_the_account_exists(server, http, names):
    name = names()
    await new_user(http, server.url, name)
    answers = []
    for username in (name, names("ghost")):
        with pytest.raises(ApiError) as err:
            await Api(http, server.url).call("POST", "/api/v1/auth/login",
                                             {"username": username, "password": "not the password"})
        answers.append((err.value.status, err.value.body))
    assert answers[0] == answers[1] and answers[0][0] == 401


async def test_cookie_session_with_csrf_header(server, http, names):
    name = names()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(server.url + "/api/v1/auth/register",
                                json={"username": name, "password": "browser secret 1"}) as resp:
            assert resp.status == 201
            cookie = resp.cookies["parley_session"]
            assert cookie["httponly"] and cookie["samesite"] == "Lax"
        async with browser.get(server.url + "/api/v1/me") as resp:
            assert resp.status == 200 and (await resp.json())["username"] == name
            assert resp.headers["Cache-Control"] == "private, no-store"
        # A cookie alone cannot write: a cross-site form could send it.
        async with browser.post(server.url + "/api/v1/rooms", json={"name": "csrf"}) as resp:
            assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"
        async with browser.post(server.url + "/api/v1/rooms", json={"name": "ok"},
                                headers={"X-Requested-With": "parley"}) as resp:
            assert resp.status == 201
        sock = await Socket.open(browser, server.url, None, origin=server.url)
        assert sock.frames[0]["user"]["username"] == name
        async with browser.post(server.url + "/api/v1/auth/logout", headers={"X-Requested-With": "parley"}) as resp:
            assert resp.status == 204
        await asyncio.wait_for(sock.closed.wait(), 5)
        assert sock.ws.close_code == 4001
        async with browser.get(server.url + "/api/v1/me") as resp:
            assert resp.status == 401


async def test_websocket_origin_and_auth_frame(server, http, names):
    api = await new_user(http, server.url, names())
    ws_url = server.url.replace("http", "ws") + "/ws"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(ws_url + f"?token={api.token}", origin="https://evil.example")
    assert err.value.status == 403
    raw = await http.ws_connect(ws_url)
    await raw.send_json({"type": "auth", "token": api.token})
    hello = await raw.receive_json(timeout=5)
    assert hello["type"] == "hello" and hello["user"]["id"] == api.user["id"]
    await raw.close()
    bad = await http.ws_connect(ws_url)
    await bad.send_json({"type": "auth", "token": "nope"})
    error = await bad.receive_json(timeout=5)
    assert error["type"] == "error" and error["code"] == "unauthorized"
    closing = await bad.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and bad.close_code == 4001


async def test_password_change_revokes_every_other_session(server, http, names):
    name = names()
    first = await new_user(http, server.url, name, password="first secret 123")
    second = Api(http, server.url)
    answer = await second.call("POST", "/api/v1/auth/login", {"username": name, "password": "first secret 123"})
    second.token = answer["token"]
    sock = await Socket.open(http, server.url, second.token)
    changed = await first.call("POST", "/api/v1/me/password",
                               {"current_password": "first secret 123", "new_password": "second secret 456"})
    await asyncio.wait_for(sock.closed.wait(), 5)
    assert sock.ws.close_code == 4001
    for token in (first.token, second.token):
        with pytest.raises(ApiError) as err:
            await Api(http, server.url, token).call("GET", "/api/v1/me")
        assert err.value.status == 401
    assert (await Api(http, server.url, changed["token"]).call("GET", "/api/v1/me"))["username"] == name
    with pytest.raises(ApiError):
        await Api(http, server.url).call("POST", "/api/v1/auth/login", {"username": name,
                                                                        "password": "first secret 123"})


async def test_failed_logins_are_throttled_per_account_and_address(server, http, names):
    name = names()
    await new_user(http, server.url, name, password="right secret 1")
    statuses = []
    for _ in range(7):
        try:
            await Api(http, server.url).call("POST", "/api/v1/auth/login", {"username": name, "password": "wrong!!!"})
        except ApiError as err:
            statuses.append(err.status)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]


async def test_disabled_user_is_logged_out_everywhere(server, http, names):
    name = names()
    api = await new_user(http, server.url, name)
    sock = await Socket.open(http, server.url, api.token)
    result = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "parley", "user", "disable", name,
                                                      "--database-url", server.database_url],
                                     capture_output=True, text=True, cwd=server.workdir)
    assert result.returncode == 0, result.stderr
    with pytest.raises(ApiError) as err:
        await api.call("GET", "/api/v1/me")
    assert err.value.status == 401
    # The CLI runs in another process; the server learns from the revocation log.
    await asyncio.wait_for(sock.closed.wait(), 5)
    assert sock.ws.close_code == 4001
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect(server.url.replace("http", "ws") + f"/ws?token={api.token}")


async def test_first_account_is_admin_and_security_headers(tmp_path, http, names):
    from tests.support.server import ServerProcess

    proc = ServerProcess(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path).start()
    try:
        first, second = await new_user(http, proc.url, names()), await new_user(http, proc.url, names())
        assert first.user["is_admin"] is True and second.user["is_admin"] is False
        async with http.get(proc.url + "/api/docs") as resp:
            csp = resp.headers["Content-Security-Policy"]
            assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "frame-ancestors 'none'" in csp
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["Referrer-Policy"] == "no-referrer"
    finally:
        proc.stop()
