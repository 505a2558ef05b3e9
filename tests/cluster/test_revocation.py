"""A user disabled by the `parley` CLI, a separate process on no shared bus, loses every node."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys

import aiohttp

from tests.cluster.helpers import register
from tests.support.client import Socket
from tests.support.sse import SseStream


async def test_cli_disable_closes_connections_on_every_node(cluster, session, db):
    a, b = cluster.nodes[:2]
    ann = await register(session, a.url)
    bob = await register(session, b.url, "bob")
    room = (await ann.create_room("disabled by the cli"))["id"]
    await bob.join(room)
    on_a, on_b = await Socket.open(session, a.url, bob.token), await Socket.open(session, b.url, bob.token)
    stream = await SseStream.open(session, b.url, bob.token)
    await stream.wait_for(lambda f: f["type"] == "hello")

    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}  # memory bus: no Redis
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "parley", "user", "disable", bob.user["username"],
                         "--database-url", cluster.database_url], capture_output=True, text=True, env=env,
        cwd=cluster.workdir, timeout=60)
    assert result.returncode == 0, result.stderr
    # The node may have closed the socket already (it reads the revocation log every second); a send
    # that still goes out must be refused and leave nothing stored.
    with contextlib.suppress(aiohttp.ClientConnectionResetError):
        await on_b.send({"type": "send", "room": room, "text": "after", "client_msg_id": "after", "ref": 7})

    for sock in (on_a, on_b):
        await asyncio.wait_for(sock.closed.wait(), 5)
        assert sock.ws.close_code == 4001
    assert not [f for f in on_b.frames if f.get("ref") == 7 and f["type"] == "ack"]
    await asyncio.wait_for(stream._task, 5)
    assert await db.fetchval("SELECT count(*) FROM events WHERE sender_id = $1 AND type = 'message'",
                             bob.user["id"]) == 0


async def test_a_kick_ends_the_room_for_the_users_connections_on_every_node(cluster, session):
    """Moderation (issue 11): the kick, done on one node, reaches the kicked user's socket and SSE stream
    on the others, and nothing of the room follows it."""
    a, b, c = cluster.nodes[:3]
    ann = await register(session, a.url)
    bob = await register(session, b.url, "bob")
    room, lobby = (await ann.create_room("kicked across nodes"))["id"], (await ann.create_room("lobby"))["id"]
    for rid in (room, lobby):
        await bob.join(rid)
    socks = [await Socket.open(session, node.url, bob.token) for node in (a, b)]
    stream = await SseStream.open(session, c.url, bob.token)
    await stream.wait_for(lambda f: f["type"] == "hello")
    await ann.call("POST", f"/api/v1/rooms/{room}/members/{bob.user['id']}/kick", {"reason": "bye"}, expect=204)
    await ann.send(room, "after the kick")
    await ann.send(lobby, "barrier")  # sent after: once it is in, the room's message would have been too
    for frames in (*socks, stream):
        await frames.wait_for(lambda f: f.get("text") == "barrier", timeout=15)
        kinds = [f["type"] for f in frames.frames if f.get("room") == room and "seq" in f]
        assert kinds[-1] == "member_kicked", kinds
    for sock in socks:
        await sock.close()
    await stream.close()
