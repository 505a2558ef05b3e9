"""Call signalling (issue 13) between real WebSocket clients of a real server process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.conftest import new_user
from tests.support.client import ApiError, Socket
from tests.support.server import FAST_LIMITS, ServerProcess

SECRET = "a-test-turn-secret"
TIMEOUT_S = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir: Path = tmp_path_factory.mktemp("calls")
    env = {**FAST_LIMITS, "PARLEY_TURN_URLS": "turn:127.0.0.1:3478?transport=udp", "PARLEY_TURN_SECRET": SECRET,
           "PARLEY_TURN_TTL": "600", "PARLEY_ICE_SERVERS": "stun:127.0.0.1:3478",
           "PARLEY_CALL_TIMEOUT_S": str(TIMEOUT_S)}
    proc = ServerProcess(f"sqlite:///{workdir / 'parley.db'}", workdir, env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


def _is(kind: str, ref: object = None):
    return lambda f: f["type"] == kind and (ref is None or f.get("ref") == ref)


async def _start(sock: Socket, room: int, ref: str = "s") -> dict:
    await sock.send({"type": "call_start", "room": room, "video": True, "ref": ref})
    return await sock.wait_for(lambda f: f.get("ref") == ref and f["type"] in ("call_joined", "error"))


async def test_a_call_from_start_to_end(server, http, names):
    ann, bob, cat = [await new_user(http, server.url, names()) for _ in range(3)]
    room = await ann.create_room("calls")
    for u in (bob, cat):
        await u.join(room["id"])
    a, b, c = [await Socket.open(http, server.url, u.token) for u in (ann, bob, cat)]
    b2 = await Socket.open(http, server.url, bob.token)  # bob's other tab, not in the call

    joined = await _start(a, room["id"])
    assert joined["type"] == "call_joined", joined
    call, peer_a = joined["call"]["id"], joined["peer"]
    started = await c.wait_for(_is("call_started"))
    assert started["call"] == call and started["sender"]["id"] == ann.user["id"]
    banner = await c.wait_for(lambda f: f["type"] == "call_state" and f["call"] is not None)
    assert [p["user"]["id"] for p in banner["call"]["participants"]] == [ann.user["id"]]
    assert (await cat.call("GET", f"/api/v1/rooms/{room['id']}/call"))["call"]["id"] == call

    await b.send({"type": "call_join", "call": call, "ref": "j"})
    joined_b = await b.wait_for(_is("call_joined", "j"))
    peer_b = joined_b["peer"]
    assert {p["peer"] for p in joined_b["call"]["participants"]} == {peer_a, peer_b}
    assert joined_b["call"]["answered"] is True

    # An offer to a named participant reaches that connection only, with who sent it.
    await b.send({"type": "call_signal", "call": call, "to": peer_a, "kind": "offer", "sdp": "v=0 offer"})
    offer = await a.wait_for(_is("call_signal"))
    assert offer == {"type": "call_signal", "call": call, "from": peer_b, "user": bob.user["id"], "kind": "offer",
                     "sdp": "v=0 offer", "candidate": None, "restart": False}
    cand = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    await a.send({"type": "call_signal", "call": call, "to": peer_b, "kind": "answer", "sdp": "v=0 answer"})
    await a.send({"type": "call_signal", "call": call, "to": peer_b, "kind": "ice", "candidate": cand})
    got = await b.wait_count(_is("call_signal"), 2)
    assert [g["kind"] for g in got] == ["answer", "ice"] and got[1]["candidate"]["candidate"] == cand["candidate"]
    for s in (a, b, b2, c):
        await s.barrier()
    assert not [f for f in b2.frames if f["type"] == "call_signal"]  # the other tab got none
    assert not [f for f in c.frames if f["type"] == "call_signal"]

    # To a participant that is not there, or from a connection that is not in the call: refused.
    await a.send({"type": "call_signal", "call": call, "to": "nobody", "kind": "answer", "sdp": "x", "ref": "x1"})
    assert (await a.wait_for(_is("error", "x1")))["code"] == "not_found"
    await b2.send({"type": "call_signal", "call": call, "to": peer_a, "kind": "offer", "sdp": "x", "ref": "x2"})
    assert (await b2.wait_for(_is("error", "x2")))["code"] == "not_found"

    # bob leaves, ann stays; then ann hangs up: the call ends, in the log, with both of them.
    seen = len(a.frames)
    await b.send({"type": "call_leave", "call": call})
    left = await a.wait_for(lambda f: f["type"] == "call_state" and f["call"] is not None
                            and len(f["call"]["participants"]) == 1, start=seen)
    assert left["call"]["participants"][0]["peer"] == peer_a
    await a.send({"type": "call_leave", "call": call})
    for s in (a, b, c):
        ended = await s.wait_for(_is("call_ended"))
        assert ended["call"] == call and ended["missed"] is False and ended["by"] is None
        assert [p["id"] for p in ended["participants"]] == [ann.user["id"], bob.user["id"]]
        assert ended["duration_ms"] >= 0
    assert (await cat.call("GET", f"/api/v1/rooms/{room['id']}/call"))["call"] is None
    types = [m["type"] for m in (await cat.history(room["id"]))["messages"]]
    assert types[-2:] == ["call_started", "call_ended"]


async def test_only_members_who_may_post_signal(server, http, names):
    ann, eve = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await ann.create_room("closed", visibility="private")
    a, e = await Socket.open(http, server.url, ann.token), await Socket.open(http, server.url, eve.token)
    call = (await _start(a, room["id"]))["call"]["id"]
    peer_a = (await a.wait_for(_is("call_joined")))["peer"]
    refused = await _start(e, room["id"], "e1")
    assert refused["type"] == "error" and refused["code"] == "not_found"
    for n, frame in enumerate([{"type": "call_join", "call": call},
                               {"type": "call_signal", "call": call, "to": peer_a, "kind": "offer", "sdp": "x"},
                               {"type": "call_leave", "call": call}, {"type": "call_end", "call": call},
                               {"type": "call_decline", "call": call}]):
        await e.send({**frame, "ref": f"r{n}"})
        err = await e.wait_for(_is("error", f"r{n}"))
        assert err["code"] == "not_found", err
        assert "call" in err["message"]
    await a.barrier()
    assert not [f for f in a.frames if f["type"] == "call_signal"]
    with pytest.raises(ApiError) as exc:
        await eve.call("GET", f"/api/v1/rooms/{room['id']}/call")
    assert exc.value.status == 404
    # A bad signal frame: an error frame, nothing relayed.
    await a.send({"type": "call_signal", "call": call, "to": peer_a, "kind": "ice", "sdp": "x", "ref": "bad"})
    assert (await a.wait_for(_is("error", "bad")))["code"] == "invalid"
    await a.send({"type": "call_end", "call": call})
    assert (await a.wait_for(_is("call_ended")))["by"]["id"] == ann.user["id"]


async def test_a_declined_direct_call_is_missed(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await ann.call("POST", "/api/v1/direct", {"usernames": [bob.user["username"]]})
    a, b = await Socket.open(http, server.url, ann.token), await Socket.open(http, server.url, bob.token)
    call = (await _start(a, room["id"]))["call"]["id"]
    ringing = await b.wait_for(_is("call_started"))
    assert ringing["call"] == call and ringing["room"] == room["id"]
    await b.send({"type": "call_decline", "call": call})
    ended = await a.wait_for(_is("call_ended"))
    assert ended["missed"] is True and ended["declined"] is True and ended["duration_ms"] == 0
    assert [p["id"] for p in ended["participants"]] == [ann.user["id"]]


async def test_a_participant_whose_socket_is_gone_times_out(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await ann.create_room("flaky")
    await bob.join(room["id"])
    a, b = await Socket.open(http, server.url, ann.token), await Socket.open(http, server.url, bob.token)
    joined = await _start(a, room["id"])
    call, peer = joined["call"]["id"], joined["peer"]
    # A reconnect within the timeout takes the same participant over.
    await a.close()
    a = await Socket.open(http, server.url, ann.token)
    await a.send({"type": "call_join", "call": call, "peer": peer, "ref": "again"})
    assert (await a.wait_for(_is("call_joined", "again")))["peer"] == peer
    # Then the socket goes for good: the call ends on its own, with no one to end it.
    started = time.monotonic()
    await a.close()
    ended = await b.wait_for(_is("call_ended"), timeout=TIMEOUT_S * 6)
    assert ended["call"] == call and ended["by"] is None and ended["missed"] is True
    assert time.monotonic() - started >= TIMEOUT_S - 0.5


async def test_ice_servers_carry_short_lived_turn_credentials(server, http, names):
    ann = await new_user(http, server.url, names())
    before = int(time.time())
    got = await ann.call("GET", "/api/v1/calls/ice")
    assert got["ttl_s"] == 600
    stun, turn = got["ice_servers"]
    assert stun == {"urls": ["stun:127.0.0.1:3478"]}
    assert turn["urls"] == ["turn:127.0.0.1:3478?transport=udp"]
    expiry, user_id = turn["username"].split(":")
    assert int(user_id) == ann.user["id"] and before + 600 <= int(expiry) <= int(time.time()) + 600
    expected = base64.b64encode(hmac.new(SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected
    assert SECRET not in str(got)
    status, _, body = await ann.fetch("/api/v1/calls/ice", auth=False)
    assert status == 401 and orjson.loads(body)["error"]["code"] == "unauthorized"
