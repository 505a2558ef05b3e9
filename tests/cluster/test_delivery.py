"""Several nodes on PostgreSQL + Redis behind nginx: every client, wherever it is connected, sees
every message once and in room order; presence, rate limits and SSE work across nodes."""

from __future__ import annotations

import asyncio
import time

from parley.core.cursors import decode_cursors
from tests.cluster.helpers import (
    assert_gap_free,
    assert_log_intact,
    eventually,
    register,
    room_seqs,
    wait_seq,
)
from tests.support.client import Api, Socket
from tests.support.sse import SseStream


async def _members_online(api: Api, room: int) -> dict[int, bool]:
    body = await api.call("GET", f"/api/v1/rooms/{room}/members")
    return {m["user"]["id"]: m["online"] for m in body["members"]}


async def _same(answer, expected) -> bool:
    return await answer == expected


async def test_rooms_and_direct_chats_spread_over_nodes(cluster, session, db):
    nodes = cluster.nodes[:3]
    users = [await register(session, nodes[i % 3].url) for i in range(6)]  # each uses its own node
    names = [u.user["username"] for u in users]
    room = (await users[0].create_room("shared"))["id"]
    for user in users[1:]:
        await user.join(room)
    pair = (await users[1].call("POST", "/api/v1/direct", {"usernames": [names[5]]}))["id"]  # nodes 1 and 2
    group = (await users[2].call("POST", "/api/v1/direct", {"usernames": [names[3], names[4]]}))["id"]
    rooms_of = {0: [room], 1: [room, pair], 2: [room, group], 3: [room, group], 4: [room, group], 5: [room, pair]}

    socks = [await Socket.open(session, nodes[i % 3].url, u.token) for i, u in enumerate(users)]
    assert len({s.frames[0]["node"] for s in socks}) == 3, "the sockets should be on three different nodes"
    start = [{int(r): seq for r, seq in s.frames[0]["rooms"].items()} for s in socks]

    async def talk(i: int) -> list[dict]:
        acks = []
        for n in range(12):
            target = rooms_of[i][n % len(rooms_of[i])]
            acks.append(await socks[i].send_message(target, f"{names[i]} {n}", f"m-{i}-{n}"))
        return acks

    # Everybody at once, plus REST posts through a node where the poster has no socket.
    rest = Api(session, nodes[2].url, users[0].token)
    results = await asyncio.gather(*(talk(i) for i in range(6)),
                                   *(rest.send(room, f"rest {n}", f"rest-{n}") for n in range(5)))
    acks = [a for batch in results[:6] for a in batch]
    assert all(a["type"] == "ack" for a in acks), [a for a in acks if a["type"] != "ack"][:3]

    for rid in (room, pair, group):
        rows = await assert_log_intact(db, rid)
        last = rows[-1]["seq"]
        sent = [r["client_msg_id"] for r in rows if r["type"] == "message"]
        assert len(sent) == len(set(sent)), "a client_msg_id is stored twice"
        for i, sock in enumerate(socks):
            if rid not in rooms_of[i]:
                assert not sock.events(rid), f"user {i} got events of a room they are not in"
                continue
            await wait_seq(sock, rid, last)
            assert_gap_free(room_seqs(sock, rid), start[i][rid] + 1, last, f"user {i} in room {rid}")
            got = [f["client_msg_id"] for f in sock.events(rid, "message")]
            assert got == [r["client_msg_id"] for r in rows if r["type"] == "message" and r["seq"] > start[i][rid]]
        # Each sender's messages are stored in the order they were sent.
        for i in range(6):
            mine = [int(c.split("-")[2]) for c in sent if c.startswith(f"m-{i}-")]
            assert mine == sorted(mine)
    for sock in socks:
        await sock.close()


async def test_clients_through_nginx_round_robin(cluster, session, db):
    edge = cluster.nginx.url
    users = [await register(session, edge) for _ in range(9)]
    room = (await users[0].create_room("edge"))["id"]
    for user in users[1:]:
        await user.join(room)
    socks = [await Socket.open(session, edge, u.token) for u in users]
    spread = [s.frames[0]["node"] for s in socks]
    assert len(set(spread)) == 3, f"nginx should spread sockets over the 3 nodes (plain round-robin): {spread}"
    start = [s.frames[0]["rooms"][str(room)] for s in socks]

    async def talk(i: int) -> list[dict]:
        return [await socks[i].send_message(room, f"{i}:{n}", f"e-{i}-{n}") for n in range(10)]

    acks = [a for batch in await asyncio.gather(*(talk(i) for i in range(9))) for a in batch]
    assert all(a["type"] == "ack" for a in acks)
    # REST through nginx too (each request may land on any node).
    for n in range(6):
        await users[n].send(room, f"rest via nginx {n}", f"r-{n}")
    rows = await assert_log_intact(db, room)
    last = rows[-1]["seq"]
    for i, sock in enumerate(socks):
        await wait_seq(sock, room, last)
        assert_gap_free(room_seqs(sock, room), start[i] + 1, last, f"client {i} on node {spread[i]}")
        assert len(sock.events(room, "message")) == 96
    for sock in socks:
        await sock.close()


async def test_presence_across_nodes(cluster, session):
    a, b, c = cluster.nodes[:3]
    ann, bob = await register(session, a.url), await register(session, b.url)
    room = (await ann.create_room("presence"))["id"]
    await bob.join(room)
    ann_sock = await Socket.open(session, a.url, ann.token)
    # Asked on node B, where ann has no connection, she is online; bob is not connected anywhere.
    # (`hello` comes just before the connection is counted, so give it a moment.)
    expected = {ann.user["id"]: True, bob.user["id"]: False}
    await eventually(lambda: _same(_members_online(Api(session, b.url, bob.token), room), expected), 5,
                     what="ann online, bob offline, asked on node B")

    bob_sock = await Socket.open(session, c.url, bob.token)
    await ann_sock.wait_for(lambda f: f["type"] == "presence" and {"user": bob.user["id"], "online": True}
                            in f["changes"])
    await eventually(lambda: _same(_members_online(Api(session, a.url, ann.token), room),
                                   {ann.user["id"]: True, bob.user["id"]: True}), 5, what="bob online on node A")
    mark = len(ann_sock.frames)
    await bob_sock.close()
    await ann_sock.wait_for(lambda f: f["type"] == "presence" and {"user": bob.user["id"], "online": False}
                            in f["changes"], start=mark)
    assert (await _members_online(Api(session, b.url, bob.token), room))[bob.user["id"]] is False
    await ann_sock.close()


async def test_rate_limits_hold_across_nodes(cluster, session):
    strict = cluster.add_nodes(2, env={"PARLEY_RATE_LIMIT_BURST": "5", "PARLEY_RATE_LIMIT_PER_SEC": "0.1"})
    try:
        ann = await register(session, cluster.nodes[0].url)
        room = (await ann.create_room("limits"))["id"]
        socks = [await Socket.open(session, node.url, ann.token) for node in strict]
        answers = [await socks[n % 2].send_message(room, f"m{n}", f"rl-{n}") for n in range(7)]
        kinds = [a["type"] if a["type"] == "ack" else a["code"] for a in answers]
        assert kinds == ["ack"] * 5 + ["rate_limited"] * 2, kinds
        # The same bucket answers REST on either node, with Retry-After.
        async with session.post(strict[1].url + f"/api/v1/rooms/{room}/messages", json={"text": "more"},
                                headers={"Authorization": f"Bearer {ann.token}"}) as resp:
            assert resp.status == 429
            assert (await resp.json())["error"]["code"] == "rate_limited"
            assert float(resp.headers["Retry-After"]) > 0
        for sock in socks:
            await sock.close()
    finally:
        for node in strict:
            node.stop()
            cluster.nodes.remove(node)


async def test_sse_resume_through_nginx_on_another_node(cluster, session, db):
    edge = cluster.nginx.url
    ann, bob = await register(session, edge), await register(session, edge)
    room = (await ann.create_room("sse"))["id"]
    await bob.join(room)

    first = await SseStream.open(session, edge, bob.token)
    hello = await first.wait_for(lambda f: f["type"] == "hello")
    start = hello["rooms"][str(room)]
    for n in range(5):
        await ann.send(room, f"live {n}", f"s1-{n}")
    last = await db.fetchval("SELECT last_seq FROM rooms WHERE id = $1", room)
    await first.wait_for(lambda f: f.get("room") == room and f.get("seq") == last)
    assert all(e["id"] for e in first.events), "every event carries an id"
    assert decode_cursors(first.last_id) == {room: last}
    await first.close()

    for n in range(7):  # while bob is away, through whatever node nginx picks
        await ann.send(room, f"missed {n}", f"s2-{n}")

    # Reconnect through nginx with Last-Event-ID until it lands on another node than the first.
    for _attempt in range(9):
        second = await SseStream.open(session, edge, bob.token, last_event_id=first.last_id)
        again = await second.wait_for(lambda f: f["type"] == "hello")
        if again["node"] != hello["node"]:
            break
        await second.close()
    else:
        raise AssertionError("nginx never sent the reconnect to another node")
    resumed = await second.wait_for(lambda f: f["type"] == "resumed")
    for n in range(3):
        await ann.send(room, f"after {n}", f"s3-{n}")
    end = await db.fetchval("SELECT last_seq FROM rooms WHERE id = $1", room)
    await second.wait_for(lambda f: f.get("room") == room and f.get("seq") == end)
    assert resumed["cursors"][str(room)] >= last

    def seqs(stream: SseStream) -> list[int]:
        return [f["seq"] for f in stream.frames if f.get("room") == room and "seq" in f and f["type"] != "read"]

    assert_gap_free(seqs(first) + seqs(second), start + 1, end, "bob over SSE")
    texts = [f["text"] for f in first.frames + second.frames if f.get("type") == "message"]
    assert texts == [f"live {n}" for n in range(5)] + [f"missed {n}" for n in range(7)] + \
        [f"after {n}" for n in range(3)]
    # Each event's id is the stream position after it.
    for event in second.events:
        if event["data"].get("room") == room and "seq" in event["data"]:
            assert decode_cursors(event["id"]) == {room: event["data"]["seq"]}
    await second.close()


async def test_sse_token_in_query_and_heartbeat_through_nginx(cluster, session):
    ann = await register(session, cluster.nginx.url)
    opened = time.monotonic()
    async with session.get(cluster.nginx.url + f"/api/v1/events?token={ann.token}",
                           timeout=None) as resp:
        assert resp.status == 200
        stream = SseStream(resp)
        await stream.wait_for(lambda f: f["type"] == "hello")
        at, text = await stream.wait_comment(20)
        assert text == "keep-alive" and at - opened < 20
        await stream.close()
    # Unauthenticated streams are refused with the usual error body.
    async with session.get(cluster.nginx.url + "/api/v1/events") as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_new_room_and_invite_reach_sockets_on_other_nodes(cluster, session):
    a, b = cluster.nodes[:2]
    ann, bob = await register(session, a.url), await register(session, b.url)
    bob_sock = await Socket.open(session, b.url, bob.token)
    room = (await ann.create_room("private one", visibility="private"))["id"]
    await ann.call("POST", f"/api/v1/rooms/{room}/invite", {"username": bob.user["username"]})
    invited = await bob_sock.wait_for(lambda f: f["type"] == "invited")
    assert invited["room"]["id"] == room
    await bob.join(room)  # on node B; ann's socket is on node A
    ann_sock = await Socket.open(session, a.url, ann.token)
    ack = await ann_sock.send_message(room, "welcome across nodes")
    assert ack["type"] == "ack"
    got = await bob_sock.wait_for(lambda f: f["type"] == "message" and f["room"] == room)
    assert got["text"] == "welcome across nodes"
    await eventually(lambda: room_seqs(bob_sock, room)[-1:] == [ack["seq"]], 5, what="bob reaches the last seq")
    await bob_sock.close()
    await ann_sock.close()


async def test_session_cookie_is_secure_behind_tls_termination(cluster, session):
    """nginx terminates TLS and says so with X-Forwarded-Proto; with PARLEY_TRUST_PROXY=true the
    node must mark the session cookie Secure, as it does when it serves TLS itself."""
    node = cluster.nodes[0]
    async with session.post(node.url + "/api/v1/auth/register",
                            json={"username": "tls" + str(node.port), "password": "a long enough secret"},
                            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}) as resp:
        assert resp.status == 201
        cookie = resp.headers.get("Set-Cookie", "")
    assert "parley_session=" in cookie and "HttpOnly" in cookie
    assert "Secure" in cookie, f"behind a TLS proxy the session cookie lacks Secure: {cookie}"
