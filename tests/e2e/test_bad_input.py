"""Bad input gets a clear error, the connection stays open, and nothing is half-stored."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import Iterator

import aiohttp
import pytest

from tests.conftest import create_pg_database, drop_pg_database, new_user
from tests.support.client import ApiError, Socket
from tests.support.server import FAST_LIMITS, ServerProcess


@pytest.fixture
async def ann_room(server, http, names):
    ann = await new_user(http, server.url, names())
    room = await ann.create_room(names("input"))  # public names are unique on this shared server
    sock = await Socket.open(http, server.url, ann.token)
    return ann, room, sock


@pytest.mark.parametrize(("raw", "code", "names_field"), [
    ("{not json", "bad_json", None),
    ("[1, 2]", "bad_json", None),
    ('"just a string"', "bad_json", None),
    ('{"type": "teleport", "ref": "r"}', "unknown_type", None),
    ('{"ref": "r"}', "unknown_type", None),
    ('{"type": "send", "text": "hi", "ref": "r"}', "invalid", "room"),
    ('{"type": "send", "room": 1, "ref": "r"}', "invalid", "text"),
    ('{"type": "send", "room": "abc", "text": "hi", "ref": "r"}', "invalid", "room"),
    ('{"type": "send", "room": 1, "text": 42, "ref": "r"}', "invalid", "text"),
    ('{"type": "send", "room": 1, "text": "   ", "ref": "r"}', "invalid", "text"),
    ('{"type": "send", "room": 1, "text": "hi", "client_msg_id": 5, "ref": "r"}', "invalid", "client_msg_id"),
    ('{"type": "send", "room": true, "text": "hi", "ref": "r"}', "invalid", "room"),
    ('{"type": "resume", "cursors": [1], "ref": "r"}', "invalid", "cursors"),
    ('{"type": "resume", "cursors": {"x": 1}, "ref": "r"}', "invalid", "cursors"),
    ('{"type": "read", "room": 1, "seq": -4, "ref": "r"}', "invalid", "seq"),
    ('{"type": "typing", "ref": "r"}', "invalid", "room"),
    ('{"type": "auth", "token": "again", "ref": "r"}', "invalid", None),
])
async def test_bad_frames_get_error_frames_and_the_socket_stays_open(ann_room, raw, code, names_field):
    ann, room, sock = ann_room
    await sock.ws.send_str(raw)
    error = await sock.wait_for(lambda f: f["type"] == "error")
    assert error["code"] == code, error
    if names_field:
        assert names_field in error["message"]
    if '"ref"' in raw and code != "bad_json":
        assert error["ref"] == "r"
    ack = await sock.send_message(room["id"], "still here")
    assert ack["type"] == "ack"
    page = await ann.history(room["id"])
    assert [m["text"] for m in page["messages"] if m["type"] == "message"] == ["still here"]


async def test_too_long_text_and_unknown_room(ann_room, server):
    ann, room, sock = ann_room
    await sock.send({"type": "send", "room": room["id"], "text": "x" * 4001, "client_msg_id": "long", "ref": 1})
    error = await sock.wait_for(lambda f: f.get("ref") == 1)
    assert error["code"] == "invalid" and "4000" in error["message"]
    ok = await sock.send_message(room["id"], "y" * 4000)
    assert ok["type"] == "ack"
    await sock.send({"type": "send", "room": 999_999, "text": "hello?", "client_msg_id": "lost", "ref": 2})
    error = await sock.wait_for(lambda f: f.get("ref") == 2)
    assert error["code"] == "not_found"
    texts = [m.get("text") for m in (await ann.history(room["id"]))["messages"]]
    assert "x" * 4001 not in texts and texts[-1] == "y" * 4000


async def test_oversized_frame_closes_with_1009(ann_room):
    _, _, sock = ann_room
    await sock.ws.send_str('{"type": "ping", "pad": "' + "z" * (70 * 1024) + '"}')
    await asyncio.wait_for(sock.closed.wait(), 10)
    assert sock.ws.close_code == 1009


async def test_binary_frame_is_refused_politely(ann_room):
    _, _, sock = ann_room
    await sock.ws.send_bytes(b"\x00\x01")
    error = await sock.wait_for(lambda f: f["type"] == "error")
    assert error["code"] == "bad_json"
    await sock.send({"type": "ping", "ref": 9})
    assert (await sock.wait_for(lambda f: f["type"] == "pong"))["ref"] == 9


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), [
    ("POST", "/api/v1/rooms", b"{broken", 400, "bad_request"),
    ("POST", "/api/v1/rooms", b"[]", 400, "bad_request"),
    ("POST", "/api/v1/rooms", b'{"name": ""}', 422, "invalid"),
    ("POST", "/api/v1/rooms", b'{"name": "ok", "visibility": "secret"}', 422, "invalid"),
    ("POST", "/api/v1/rooms", b'{"name": "' + b"n" * 81 + b'"}', 422, "invalid"),
    ("GET", "/api/v1/rooms/123456789", None, 404, "not_found"),
    ("GET", "/api/v1/rooms/abc", None, 404, "not_found"),
    ("GET", "/api/v1/rooms/1/messages?limit=1000", None, 422, "invalid"),
    ("GET", "/api/v1/rooms/1/messages?before=-1", None, 422, "invalid"),
    ("GET", "/api/v1/nothing-here", None, 404, "not_found"),
    ("PUT", "/api/v1/me", None, 405, "method_not_allowed"),
    ("PATCH", "/api/v1/me", b'{"display_name": ""}', 422, "invalid"),
    ("POST", "/api/v1/direct", b'{"usernames": "bob"}', 422, "invalid"),
    ("POST", "/api/v1/direct", b'{"usernames": ["nobody-here-at-all"]}', 422, "invalid"),
    ("PATCH", "/api/v1/rooms/1/members/" + "9" * 19, b'{"role": "member"}', 422, "invalid"),
    ("GET", "/api/v1/users?limit=51", None, 422, "invalid"),
    ("PATCH", "/api/v1/me", b'{"display_name": "ok", "is_admin": true}', 422, "invalid"),
])
async def test_http_errors_are_json(server, http, names, method, path, body, status, code):
    ann = await new_user(http, server.url, names())
    with pytest.raises(ApiError) as err:
        await ann.call(method, path, raw=body, expect=200, headers={"Content-Type": "application/json"})
    assert err.value.status == status
    assert err.value.code == code and err.value.body["error"]["message"]
    assert len((await ann.call("GET", "/api/v1/rooms"))["rooms"]) == 0


async def test_huge_body_is_413_json(server, http, names):
    ann = await new_user(http, server.url, names())
    with pytest.raises(ApiError) as err:
        await ann.call("POST", "/api/v1/rooms", raw=b'{"name": "' + b"a" * 300_000 + b'"}')
    assert err.value.status == 413 and err.value.code == "payload_too_large"


async def test_rate_limit_answers_error_frame_and_429(tmp_path, http, names):
    proc = ServerProcess(f"sqlite:///{tmp_path / 'rl.db'}", tmp_path,
                         env={"PARLEY_RATE_LIMIT_BURST": "5", "PARLEY_RATE_LIMIT_PER_SEC": "0.5"}).start()
    try:
        ann = await new_user(http, proc.url, names())
        room = await ann.create_room("calm")
        sock = await Socket.open(http, proc.url, ann.token)
        answers = [await sock.send_message(room["id"], f"m{n}") for n in range(8)]
        assert [a["type"] for a in answers] == ["ack"] * 5 + ["error"] * 3
        assert answers[-1]["code"] == "rate_limited"
        with pytest.raises(ApiError) as err:
            await ann.send(room["id"], "rest too")
        assert err.value.status == 429 and err.value.code == "rate_limited"
        stored = [m for m in (await ann.history(room["id"]))["messages"] if m["type"] == "message"]
        assert len(stored) == 5
    finally:
        proc.stop()


def _stalled_socket(port: int, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert sock.recv(1024).startswith(b"HTTP/1.1 101")
    return sock


async def test_slow_reader_is_dropped_not_buffered(tmp_path, http, names):
    proc = ServerProcess(f"sqlite:///{tmp_path / 'slow.db'}", tmp_path,
                         env={"PARLEY_RATE_LIMIT_BURST": "100000", "PARLEY_RATE_LIMIT_PER_SEC": "100000",
                              "PARLEY_WS_MAX_QUEUE_BYTES": "65536"}).start()
    try:
        ann, bob = await new_user(http, proc.url, names()), await new_user(http, proc.url, names())
        room = await ann.create_room("firehose")
        await bob.join(room["id"])
        stalled = _stalled_socket(proc.port, bob.token)
        ann_sock = await Socket.open(http, proc.url, ann.token)
        text = "f" * 3500
        for n in range(0, 1500, 50):
            acks = await asyncio.gather(*(ann_sock.send_message(room["id"], text) for _ in range(50)))
            assert all(a["type"] == "ack" for a in acks), n
        # The server dropped Bob instead of queueing ~5 MB for him; Ann is unaffected.
        assert "dropping slow consumer" in proc.log()
        members = await ann.call("GET", f"/api/v1/rooms/{room['id']}/members")
        bob_online = [m["online"] for m in members["members"] if m["user"]["id"] == bob.user["id"]]
        assert bob_online == [False]
        stalled.close()
        # Bob resumes and gets everything.
        bob_sock = await Socket.open(http, proc.url, bob.token)
        await bob_sock.send({"type": "resume", "cursors": {str(room["id"]): 3}})
        await bob_sock.wait_for(lambda f: f["type"] == "resumed", timeout=30)
        assert len(bob_sock.events(room["id"], "message")) == 1500
    finally:
        proc.stop()


async def test_unauthenticated_socket_and_http(server, http):
    for path in ("/api/v1/me", "/api/v1/rooms"):
        async with http.get(server.url + path) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "unauthorized"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(server.url.replace("http", "ws") + "/ws?token=forged")
    assert err.value.status == 401


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_db_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server per database, generous rate limits: inputs must be refused before either sees them."""
    workdir = tmp_path_factory.mktemp(f"bad-{request.param}")
    pg_name = create_pg_database() if request.param == "postgresql" else None
    url = f"postgresql://postgres@127.0.0.1:5432/{pg_name}" if pg_name else f"sqlite:///{workdir / 'bad.db'}"
    proc = ServerProcess(url, workdir, env=FAST_LIMITS).start()
    try:
        yield proc
    finally:
        proc.stop()
        if pg_name:
            drop_pg_database(pg_name)


@pytest.mark.parametrize("role", [{}, [], 5, None, True, {"role": "admin"}])
async def test_role_of_the_wrong_type_is_422_naming_the_field(any_db_server, http, names, role):
    server = any_db_server
    ann, stranger = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    bob = await new_user(http, server.url, names())
    room = await ann.create_room(names("roles"))  # public names are unique on this shared server
    await bob.join(room["id"])
    path = f"/api/v1/rooms/{room['id']}/members/{bob.user['id']}"
    for caller in (ann, stranger):
        with pytest.raises(ApiError) as err:
            await caller.call("PATCH", path, {"role": role})
        assert err.value.status == 422 and err.value.code == "invalid", err.value.body
        assert "role" in err.value.body["error"]["message"]
    assert "Traceback" not in server.log()


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/api/v1/rooms", b'{"name": 5}', "name"),
    ("POST", "/api/v1/rooms", b'{"name": "ok", "visibility": ["public"]}', "visibility"),
    ("POST", "/api/v1/rooms", b'{"name": "ok", "topic": {}}', "topic"),
    ("PATCH", "/api/v1/me", b'{"display_name": []}', "display_name"),
    ("POST", "/api/v1/rooms/{room}/read", b'{"seq": "7"}', "seq"),
    ("POST", "/api/v1/rooms/{room}/read", b'{"seq": 1.5}', "seq"),
    ("POST", "/api/v1/rooms/{room}/messages", b'{"text": ["hi"]}', "text"),
    ("POST", "/api/v1/rooms/{room}/messages", b'{"text": "hi", "client_msg_id": {}}', "client_msg_id"),
    ("POST", "/api/v1/rooms/{room}/invite", b'{"usernames": [{}]}', "usernames"),
    ("POST", "/api/v1/direct", b'{"usernames": [[]]}', "usernames"),
    ("PATCH", "/api/v1/rooms/{room}", b'{"name": {}}', "name"),
    ("PATCH", "/api/v1/rooms/{room}", b'{"archived": "yes"}', "archived"),
])
async def test_every_body_field_of_the_wrong_type_is_422(server, http, names, method, path, body, field):
    ann = await new_user(http, server.url, names())
    room = await ann.create_room(names("types"))
    with pytest.raises(ApiError) as err:
        await ann.call(method, path.format(room=room["id"]), raw=body, headers={"Content-Type": "application/json"})
    assert err.value.status == 422 and err.value.code == "invalid", err.value.body
    assert field in err.value.body["error"]["message"]
    assert "Traceback" not in server.log()


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/v1/users?q=a%00", None),
    ("GET", "/api/v1/rooms/public?q=a%00", None),
    ("POST", "/api/v1/auth/login", {"username": "a\u0000b", "password": "whatever it is"}),
    ("POST", "/api/v1/auth/login", {"username": "ann", "password": "nul\u0000inside"}),
    ("POST", "/api/v1/auth/register", {"username": "nul", "password": "a long enough\u0000secret"}),
    ("POST", "/api/v1/rooms/{room}/messages", {"text": "hi", "client_msg_id": "id\u0000"}),
    ("POST", "/api/v1/rooms/{room}/invite", {"usernames": ["a\u0000b"]}),
    ("POST", "/api/v1/direct", {"usernames": ["a\u0000b"]}),
])
async def test_nul_characters_are_refused_before_the_database(any_db_server, http, names, method, path, body):
    server = any_db_server
    ann = await new_user(http, server.url, names())
    room = await ann.create_room(names("nul"))
    with pytest.raises(ApiError) as err:
        await ann.call(method, path.format(room=room["id"]), body)
    assert err.value.status in (400, 422), err.value.body
    assert err.value.code in ("bad_request", "invalid") and err.value.body["error"]["message"]
    assert "Traceback" not in server.log()


async def test_nul_in_a_frame_is_an_error_frame(any_db_server, http, names):
    server = any_db_server
    ann = await new_user(http, server.url, names())
    room = await ann.create_room("nul frames")
    sock = await Socket.open(http, server.url, ann.token)
    await sock.send({"type": "send", "room": room["id"], "text": "hi", "client_msg_id": "x\u0000", "ref": "n"})
    error = await sock.wait_for(lambda f: f.get("ref") == "n")
    assert error["type"] == "error" and error["code"] == "invalid" and "client_msg_id" in error["message"]
    ack = await sock.send_message(room["id"], "still here")
    assert ack["type"] == "ack"
    assert "Traceback" not in server.log()
