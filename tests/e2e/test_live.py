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
    bob_online = {"user": bob.user["id"], "online": True}
    online = await ann_sock.wait_for(lambda f: f["type"] == "presence" and bob_online in f["changes"])
    assert online["changes"] == [bob_online]  # one change in its second: a batch of one
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
    bob_offline = {"user": bob.user["id"], "online": False}
    offline = await ann_sock.wait_for(lambda f: f["type"] == "presence" and bob_offline in f["changes"])
    assert offline["changes"] == [bob_offline]
    # Typing is not echoed to the typist.
    assert not [f for f in bob_sock.frames if f["type"] == "typing"]


async def _barrier(sock: Socket) -> None:
    """A ping/pong round trip: any frame the server queued for this socket before it is in by now."""
    ref = f"barrier-{len(sock.frames)}"
    await sock.send({"type": "ping", "ref": ref})
    await sock.wait_for(lambda f: f["type"] == "pong" and f.get("ref") == ref)


async def test_declining_an_invitation_drops_the_invitee_live(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await ann.create_room("declined", visibility="private")
    await ann.call("POST", f"/api/v1/rooms/{room['id']}/invite", {"username": bob.user["username"]})
    ann_sock = await Socket.open(http, server.url, ann.token)
    await bob.call("POST", f"/api/v1/rooms/{room['id']}/leave")
    left = await ann_sock.wait_for(lambda f: f["type"] == "member_left" and f["room"] == room["id"])
    assert left["user"]["id"] == bob.user["id"] and left["sender"]["id"] == bob.user["id"]
    members = await ann.call("GET", f"/api/v1/rooms/{room['id']}/members")
    assert [m["user"]["id"] for m in members["members"]] == [ann.user["id"]]


async def test_a_display_name_change_reaches_everyone_sharing_a_room(server, http, names):
    ann, bob, carl, dave = [await new_user(http, server.url, names()) for _ in range(4)]
    lobby = await ann.create_room(names("lobby"))
    await bob.join(lobby["id"])
    staff = await ann.create_room("staff", visibility="private")
    await ann.call("POST", f"/api/v1/rooms/{staff['id']}/invite", {"username": carl.user["username"]})
    ann_here, ann_there = [await Socket.open(http, server.url, ann.token) for _ in range(2)]
    bob_sock, carl_sock, dave_sock = [await Socket.open(http, server.url, u.token) for u in (bob, carl, dave)]

    await ann.call("PATCH", "/api/v1/me", {"display_name": "Ann Renamed"})
    expected = {"type": "user_updated", "user": {**ann.user, "display_name": "Ann Renamed"}}
    expected["user"] = {k: expected["user"][k] for k in ("id", "username", "display_name", "avatar_url")} | {"status": ""}
    for sock in (bob_sock, ann_here, ann_there):
        frame = await sock.wait_for(lambda f: f["type"] == "user_updated")
        assert frame == expected
    # Dave shares no room; carl is only invited, so he sees no member list of it.
    for sock in (dave_sock, carl_sock):
        await _barrier(sock)
        assert [f for f in sock.frames if f["type"] == "user_updated"] == []

    # The invitee is in the inviter's member list: his change reaches her, not bob.
    await carl.call("PATCH", "/api/v1/me", {"display_name": "Carl Renamed"})
    frame = await ann_here.wait_for(lambda f: f["type"] == "user_updated" and f["user"]["id"] == carl.user["id"])
    assert frame["user"]["display_name"] == "Carl Renamed"
    await _barrier(bob_sock)
    assert [f["user"]["id"] for f in bob_sock.frames if f["type"] == "user_updated"] == [ann.user["id"]]


async def test_messages_carry_the_ids_of_mentioned_members(server, http, names):
    ann = await new_user(http, server.url, names())
    bob = await new_user(http, server.url, names("bob"))
    bobby = await new_user(http, server.url, bob.user["username"] + "by")  # not a member
    room = await ann.create_room(names("mentions"))
    await bob.join(room["id"])
    bob_sock = await Socket.open(http, server.url, bob.token)
    text = f"@{bob.user['username'].upper()} and @{bobby.user['username']} and @nobody"
    await Socket.send_message(await Socket.open(http, server.url, ann.token), room["id"], text)
    live = await bob_sock.wait_for(lambda f: f["type"] == "message" and f["room"] == room["id"])
    assert live["mentions"] == [bob.user["id"]]
    assert (await bob.history(room["id"]))["messages"][-1]["mentions"] == [bob.user["id"]]
    assert (await bob.call("GET", f"/api/v1/rooms/{room['id']}"))["mentions"] == 1
