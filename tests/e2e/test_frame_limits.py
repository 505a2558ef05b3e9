"""Frames that fan out or replay cannot be multiplied: a read marker is told only when it moves,
`read` / `typing` / `resume` are rate-limited per connection, and a burst of resumes produces
output bounded by a few times the room, not by the number of frames."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aiohttp
import orjson

from tests.conftest import new_user
from tests.support.client import Api, Socket

_refs = itertools.count(10_000)


def _reads(sock: Socket, room: int, user: int) -> list[dict[str, Any]]:
    return [f for f in sock.frames if f["type"] == "read" and f["room"] == room and f["user"] == user]


async def _room_with(http: aiohttp.ClientSession, base: str, names: Any, members: int) -> tuple[list[Api], dict]:
    users = [await new_user(http, base, names()) for _ in range(members)]
    room = await users[0].create_room(names("room"))
    for user in users[1:]:
        await user.join(room["id"])
    return users, room


async def test_a_read_marker_is_told_once_and_only_forward(server, http, names):
    (ann, bob, cat), room = await _room_with(http, server.url, names, 3)
    for n in range(5):
        await ann.send(room["id"], f"m{n}")
    socks = [await Socket.open(http, server.url, u.token) for u in (ann, bob, cat)]
    last = socks[0].frames[0]["rooms"][str(room["id"])]
    ann_sock = socks[0]

    # The same seq again and again: one marker move, told once.
    for _ in range(200):
        await ann_sock.send({"type": "read", "room": room["id"], "seq": last})
    for sock in socks:
        await sock.barrier()
    for sock in socks[1:]:
        assert [f["seq"] for f in _reads(sock, room["id"], ann.user["id"])] == [last]

    # Older seqs (after the limit has refilled) move nothing and tell no one.
    await asyncio.sleep(2.5)
    for seq in (last - 1, last - 3, 1):
        await ann_sock.send({"type": "read", "room": room["id"], "seq": seq})
    for sock in socks:
        await sock.barrier()
    for sock in socks[1:]:
        assert [f["seq"] for f in _reads(sock, room["id"], ann.user["id"])] == [last]
    assert (await bob.call("GET", f"/api/v1/rooms/{room['id']}/members"))  # the room still answers
    for sock in socks:
        await sock.close()
    assert server.tracebacks() == []


async def test_bursts_of_read_typing_and_resume_are_rate_limited(server, http, names):
    (ann, bob), room = await _room_with(http, server.url, names, 2)
    await ann.send(room["id"], "hello")
    sock = await Socket.open(http, server.url, ann.token)
    cursor = sock.frames[0]["rooms"][str(room["id"])]
    frames = {"read": {"room": room["id"], "seq": cursor}, "typing": {"room": room["id"]},
              "resume": {"cursors": {str(room["id"]): cursor}}}
    for kind, fields in frames.items():
        refs = [next(_refs) for _ in range(60)]
        for ref in refs:
            await sock.send({"type": kind, **fields, "ref": ref})
        await sock.barrier()
        limited = [f for f in sock.frames if f["type"] == "error" and f.get("ref") in refs
                   and f["code"] == "rate_limited"]
        assert len(limited) >= 30, (kind, len(limited))
    await sock.close()
    assert server.tracebacks() == []


async def test_a_burst_of_full_resumes_has_bounded_output(server, http, names):
    (ann, bob), room = await _room_with(http, server.url, names, 2)
    writer = await Socket.open(http, server.url, ann.token)
    text = "x" * 200
    refs = [next(_refs) for _ in range(2_000)]
    for ref in refs:
        await writer.send({"type": "send", "room": room["id"], "text": text, "client_msg_id": f"c{ref}", "ref": ref})

    async def all_answered() -> None:
        while sum(f["type"] in ("ack", "error") for f in writer.frames) < len(refs):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(all_answered(), 120)
    assert sum(f["type"] == "ack" for f in writer.frames) == len(refs)
    await writer.close()

    url = server.url.replace("http", "ws", 1) + f"/ws?token={bob.token}"
    async with http.ws_connect(url, max_msg_size=0) as ws:
        await ws.receive()  # hello
        # One full replay, to measure the room.
        await ws.send_json({"type": "resume", "cursors": {str(room["id"]): 0}, "ref": 1})
        one_replay = await _bytes_until_answered(ws, {1})
        assert one_replay > 2_000 * len(text)

        burst = list(range(100, 130))
        for ref in burst:
            await ws.send_str(orjson.dumps({"type": "resume", "cursors": {str(room["id"]): 0}, "ref": ref}).decode())
        total = await _bytes_until_answered(ws, set(burst))
    # 30 resumes, 1.8 kB in: at most a few replays out (the burst allowance), not 30.
    assert total < 4 * one_replay, (total, one_replay)
    assert server.tracebacks() == []


async def _bytes_until_answered(ws: aiohttp.ClientWebSocketResponse, refs: set[int]) -> int:
    """Bytes received until each ref got its `resumed` or `error`."""
    total = 0
    while refs:
        msg = await asyncio.wait_for(ws.receive(), 60)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        total += len(msg.data)
        frame = orjson.loads(msg.data)
        if frame["type"] in ("resumed", "error") and frame.get("ref") in refs:
            refs.discard(frame["ref"])
    return total
