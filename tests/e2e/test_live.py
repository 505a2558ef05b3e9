"""Live delivery between real WebSocket clients of a real server process."""

from __future__ import annotations

import asyncio

from tests.conftest import new_user
from tests.support.client import Socket


async def test_every_member_gets_every_message_once_in_order(server, http, names):
    owner = await new_user(http, server.url, names())
    others = [await new_user(http, server.url, names()) for _ in range(4)]
    room = await owner.create_room("live")
    for other in others:
        await other.join(room["id"])
    sockets = [await Socket.open(http, server.url, u.token) for u in [owner, *others]]

    async def talk(i: int) -> list[dict]:
        return [await sockets[i].send_message(room["id"], f"{i}-{n}") for n in range(10)]

    acks = [a for batch in await asyncio.gather(*(talk(i) for i in range(5))) for a in batch]
    assert all(a["type"] == "ack" for a in acks)
    last = max(a["seq"] for a in acks)
    for sock in sockets:
        got = await sock.wait_count(lambda f: f["type"] == "message" and f["room"] == room["id"], 50)
        seqs = [f["seq"] for f in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == 50
        assert seqs[-1] == last
        # Room events (joins included) arrive gap-free from the hello cursor on.
        events = [f["seq"] for f in sock.events(room["id"])]
        assert events == list(range(events[0], events[0] + len(events)))
    assert {a["seq"] for a in acks} == set(range(last - 49, last + 1))


async def test_ack_carries_the_stored_message(server, http, names):
    ann = await new_user(http, server.url, names())
    room = await ann.create_room("acks")
    sock = await Socket.open(http, server.url, ann.token)
    ack = await sock.send_message(room["id"], "你好，世界 👋", "first")
    assert ack["type"] == "ack" and ack["client_msg_id"] == "first"
    echoed = await sock.wait_for(lambda f: f["type"] == "message" and f["id"] == ack["id"])
    assert echoed["text"] == "你好，世界 👋" and echoed["sender"]["username"] == ann.user["username"]
    page = await ann.history(room["id"])
    assert page["messages"][-1]["id"] == ack["id"] and page["messages"][-1]["seq"] == ack["seq"]


async def test_join_reaches_open_sockets_and_new_room_is_live(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    ann_sock = await Socket.open(http, server.url, ann.token)
    bob_sock = await Socket.open(http, server.url, bob.token)
    room = await ann.create_room("later")  # created after both connected
    await bob.join(room["id"])
    joined = await ann_sock.wait_for(lambda f: f["type"] == "member_joined" and f["user"]["id"] == bob.user["id"])
    assert joined["room"] == room["id"]
    await ann_sock.send_message(room["id"], "welcome")
    got = await bob_sock.wait_for(lambda f: f["type"] == "message" and f["room"] == room["id"])
    assert got["text"] == "welcome"


async def test_typing_presence_and_read_markers(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await ann.create_room("signals")
    await bob.join(room["id"])
    ann_sock = await Socket.open(http, server.url, ann.token)
    bob_sock = await Socket.open(http, server.url, bob.token)
    online = await ann_sock.wait_for(lambda f: f["type"] == "presence" and f["user"] == bob.user["id"])
    assert online["online"] is True
    members = await ann.call("GET", f"/api/v1/rooms/{room['id']}/members")
    assert {m["user"]["id"]: m["online"] for m in members["members"]} == {ann.user["id"]: True, bob.user["id"]: True}

    await bob_sock.send({"type": "typing", "room": room["id"]})
    typing = await ann_sock.wait_for(lambda f: f["type"] == "typing")
    assert typing["user"]["id"] == bob.user["id"] and typing["room"] == room["id"]

    ack = await ann_sock.send_message(room["id"], "read me")
    assert (await bob.call("GET", f"/api/v1/rooms/{room['id']}"))["unread"] == 1
    await bob_sock.send({"type": "read", "room": room["id"], "seq": ack["seq"]})
    marker = await ann_sock.wait_for(lambda f: f["type"] == "read" and f["user"] == bob.user["id"])
    assert marker["seq"] == ack["seq"]
    assert (await bob.call("GET", f"/api/v1/rooms/{room['id']}"))["unread"] == 0

    await bob_sock.close()
    offline = await ann_sock.wait_for(lambda f: f["type"] == "presence" and f["user"] == bob.user["id"]
                                      and not f["online"])
    assert offline["online"] is False
    # Typing is not echoed to the typist.
    assert not [f for f in bob_sock.frames if f["type"] == "typing"]
