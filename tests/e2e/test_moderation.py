"""Moderation against a real server (issue 11): a kicked or banned user's WebSocket and SSE stream
get that event and nothing more of the room; a muted one cannot send or type over the socket."""

from __future__ import annotations

import pytest

from tests.conftest import new_user
from tests.support.client import ApiError, Socket
from tests.support.sse import SseStream


def _of(room: int, frames: list[dict]) -> list[str]:
    return [f["type"] for f in frames if f.get("room") == room and "seq" in f]


async def test_kicked_and_banned_users_stop_receiving_the_room_at_once(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    bob_id = bob.user["id"]
    rooms = [(await ann.create_room(name))["id"] for name in ("watched", "banned", "lobby")]
    watched, banned, lobby = rooms
    for rid in rooms:
        await bob.join(rid)
    sock = await Socket.open(http, server.url, bob.token)
    stream = await SseStream.open(http, server.url, bob.token)
    await stream.wait_for(lambda f: f["type"] == "hello")

    async def barrier(text: str) -> None:
        """A message of another room, sent after everything before it: once both transports have it,
        anything of the room that was still coming to them has come."""
        await ann.send(lobby, text)
        await sock.wait_for(lambda f: f.get("text") == text)
        await stream.wait_for(lambda f: f.get("text") == text)

    await ann.call("POST", f"/api/v1/rooms/{watched}/members/{bob_id}/kick", {"reason": "spamming"}, expect=204)
    for frames in (sock, stream):
        kicked = await frames.wait_for(lambda f: f["type"] == "member_kicked")
        assert (kicked["room"], kicked["user"]["id"], kicked["reason"]) == (watched, bob_id, "spamming")
    await ann.send(watched, "said after the kick")
    await barrier("barrier one")
    for frames in (sock.frames, stream.frames):
        assert _of(watched, frames)[-1] == "member_kicked"
    refused = await sock.send_message(watched, "still here?")
    assert (refused["type"], refused["code"]) == ("error", "not_found")

    # A mute: reads on, cannot send or type, over the socket too.
    await ann.call("POST", f"/api/v1/rooms/{banned}/mutes", {"user_id": bob_id, "duration_s": 600})
    refused = await sock.send_message(banned, "let me talk")
    assert (refused["type"], refused["code"]) == ("error", "muted")
    await sock.send({"type": "typing", "room": banned, "ref": "t1"})
    assert (await sock.wait_for(lambda f: f.get("ref") == "t1"))["code"] == "muted"
    await ann.send(banned, "you can still read this")
    await sock.wait_for(lambda f: f.get("text") == "you can still read this")

    await ann.call("POST", f"/api/v1/rooms/{banned}/bans", {"user_id": bob_id, "duration_s": 86400}, expect=201)
    for frames in (sock, stream):
        ban = await frames.wait_for(lambda f: f["type"] == "member_banned")
        assert ban["user"]["id"] == bob_id and ban["until"] > ban["ts"]
    await ann.send(banned, "said after the ban")
    await barrier("barrier two")
    for frames in (sock.frames, stream.frames):
        assert _of(banned, frames)[-1] == "member_banned"
    with pytest.raises(ApiError) as refused_join:
        await bob.join(banned)
    assert refused_join.value.code == "banned"
    await sock.close()
    await stream.close()


async def test_slow_mode_over_the_socket_says_how_long_to_wait(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    rid = (await ann.create_room("slow"))["id"]
    await bob.join(rid)
    await ann.call("PATCH", f"/api/v1/rooms/{rid}", {"slow_mode_s": 60})
    sock = await Socket.open(http, server.url, bob.token)
    assert (await sock.send_message(rid, "first"))["type"] == "ack"
    refused = await sock.send_message(rid, "second")
    assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    assert 58 <= refused["retry_after"] <= 60 and "60 s" in refused["message"]
    with pytest.raises(ApiError) as rest:
        await bob.send(rid, "over REST")
    assert rest.value.status == 429
    await sock.close()
