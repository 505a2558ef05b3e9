"""A private room or a direct chat is invisible to everyone but its joined members, on every path."""

from __future__ import annotations

import pytest

from tests.conftest import new_user
from tests.support.client import Api, ApiError, Socket

SECRET = "the secret word is 蓝色"


async def _expect_hidden(api: Api, room_id: int, former: bool = False) -> None:
    """Every REST read and write path answers exactly as for a room that does not exist; a member
    who left (`former`) reads the history up to their leave (issue 10) and nothing after it."""
    history = (f"/api/v1/rooms/{room_id}/messages", f"/api/v1/rooms/{room_id}/messages?after=0",
               f"/api/v1/rooms/{room_id}/messages?around=1")
    if former:
        for path in history:
            page = await api.call("GET", path)
            assert SECRET not in str(page) and page["messages"][-1]["type"] == "member_left", path
            assert page["former"]["left_seq"] == page["last_seq"] == page["messages"][-1]["seq"]
    for method, path, body in [
        ("GET", f"/api/v1/rooms/{room_id}", None),
        ("GET", f"/api/v1/rooms/{room_id}/members", None),
        ("GET", f"/api/v1/rooms/{room_id}/messages", None),
        ("GET", f"/api/v1/rooms/{room_id}/messages?after=0", None),
        ("POST", f"/api/v1/rooms/{room_id}/messages", {"text": "let me in"}),
        ("POST", f"/api/v1/rooms/{room_id}/read", {"seq": 1}),
        ("POST", f"/api/v1/rooms/{room_id}/invite", {"username": api.user["username"]}),
        ("GET", f"/api/v1/rooms/{room_id}/messages?around=1", None),
    ]:
        if former and method == "GET" and path in history:
            continue
        with pytest.raises(ApiError) as err:
            await api.call(method, path, body)
        assert err.value.status == 404 and err.value.code == "not_found", (method, path, err.value.body)
    mine = await api.call("GET", "/api/v1/rooms")
    assert room_id not in [r["id"] for r in mine["rooms"]]
    public = await api.call("GET", "/api/v1/rooms/public")
    assert room_id not in [r["id"] for r in public["rooms"]]
    # search: nothing the room said while the user was not in it is found. A room they left stays
    # searchable up to their leave (an empty page); any other answers 404 like the paths above.
    for path in ("/api/v1/search?q=secret", "/api/v1/search?q=蓝色", f"/api/v1/search?q=secret&room={room_id}"):
        try:
            found = await api.call("GET", path)
        except ApiError as err:
            assert "room=" in path and err.status == 404 and err.code == "not_found"
            continue
        assert SECRET not in str(found)


async def _expect_socket_blind(sock: Socket, room_id: int) -> None:
    for frame in ({"type": "send", "room": room_id, "text": "hi", "client_msg_id": "x", "ref": "s"},
                  {"type": "typing", "room": room_id, "ref": "t"},
                  {"type": "read", "room": room_id, "seq": 1, "ref": "r"}):
        await sock.send(frame)
        error = await sock.wait_for(lambda f, ref=frame["ref"]: f.get("ref") == ref)
        assert error["type"] == "error" and error["code"] == "not_found"
    await sock.send({"type": "resume", "cursors": {str(room_id): 0}, "ref": "res"})
    resumed = await sock.wait_for(lambda f: f["type"] == "resumed")
    assert str(room_id) not in resumed["cursors"]


def _leaks(sock: Socket, room_id: int) -> list[dict]:
    return [f for f in sock.frames if f.get("room") == room_id or SECRET in str(f)]


@pytest.mark.parametrize("state", ["never_joined", "invited", "left"])
async def test_private_room_hidden_from_non_members(server, http, names, state):
    owner = await new_user(http, server.url, names())
    outsider = await new_user(http, server.url, names())
    room = await owner.create_room("hush", visibility="private", topic="secret plans")
    rid = room["id"]
    if state in ("invited", "left"):
        await owner.call("POST", f"/api/v1/rooms/{rid}/invite", {"username": outsider.user["username"]})
    if state == "left":
        await outsider.join(rid)
        await outsider.call("POST", f"/api/v1/rooms/{rid}/leave")
    watcher = await Socket.open(http, server.url, outsider.token)
    owner_sock = await Socket.open(http, server.url, owner.token)
    await owner_sock.send_message(rid, SECRET)
    await owner_sock.send({"type": "typing", "room": rid})

    if state == "invited":
        # An invitee sees the invitation (name and topic) and nothing else.
        view = await outsider.call("GET", f"/api/v1/rooms/{rid}")
        assert view["my_state"] == "invited" and view["unread"] is None and view["topic"] == "secret plans"
        mine = await outsider.call("GET", "/api/v1/rooms")
        assert [r["my_state"] for r in mine["rooms"] if r["id"] == rid] == ["invited"]
        for path in (f"/api/v1/rooms/{rid}/messages", f"/api/v1/rooms/{rid}/members"):
            with pytest.raises(ApiError) as err:
                await outsider.call("GET", path)
            assert err.value.status == 404
    else:
        await _expect_hidden(outsider, rid, former=state == "left")
    await _expect_socket_blind(watcher, rid)
    await owner_sock.barrier()  # the owner's typing frame has been handled and fanned out...
    await watcher.barrier()  # ...and whatever was queued for the watcher has arrived
    assert _leaks(watcher, rid) == []


async def test_join_then_leave_stops_delivery_at_the_leave(server, http, names):
    owner, guest = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await owner.create_room("door", visibility="private")
    await owner.call("POST", f"/api/v1/rooms/{room['id']}/invite", {"username": guest.user["username"]})
    guest_sock = await Socket.open(http, server.url, guest.token)
    await guest.join(room["id"])
    owner_sock = await Socket.open(http, server.url, owner.token)
    await owner_sock.send_message(room["id"], "while you are here")
    await guest_sock.wait_for(lambda f: f["type"] == "message" and f["room"] == room["id"])
    await guest.call("POST", f"/api/v1/rooms/{room['id']}/leave")
    await guest_sock.wait_for(lambda f: f["type"] == "member_left")
    await owner_sock.send_message(room["id"], SECRET)
    await owner_sock.wait_for(lambda f: f.get("text") == SECRET)
    await guest_sock.barrier()  # the event reached every socket of the room in the same turn
    assert not [f for f in guest_sock.frames if SECRET in str(f)]
    await _expect_hidden(guest, room["id"], former=True)


async def test_direct_chat_hidden_from_third_parties(server, http, names):
    ann, bob, eve = [await new_user(http, server.url, names()) for _ in range(3)]
    eve_sock = await Socket.open(http, server.url, eve.token)
    chat = await ann.call("POST", "/api/v1/direct", {"usernames": [bob.user["username"]]}, expect=201)
    assert {m["id"] for m in chat["members"]} == {ann.user["id"], bob.user["id"]}
    again = await bob.call("POST", "/api/v1/direct", {"usernames": [ann.user["username"].upper()]}, expect=200)
    assert again["id"] == chat["id"]
    await ann.send(chat["id"], SECRET)
    await _expect_hidden(eve, chat["id"])
    await _expect_socket_blind(eve_sock, chat["id"])
    # Eve cannot join, and inviting into a direct chat is refused.
    with pytest.raises(ApiError) as err:
        await eve.join(chat["id"])
    assert err.value.status == 404
    with pytest.raises(ApiError) as err:
        await ann.call("POST", f"/api/v1/rooms/{chat['id']}/invite", {"username": eve.user["username"]})
    assert err.value.status == 403
    assert not _leaks(eve_sock, chat["id"])
    # Bob sees it all.
    page = await bob.history(chat["id"])
    assert page["messages"][-1]["text"] == SECRET


async def test_group_direct_chat_of_up_to_ten(server, http, names):
    people = [await new_user(http, server.url, names()) for _ in range(11)]
    others = [p.user["username"] for p in people[1:10]]
    chat = await people[0].call("POST", "/api/v1/direct", {"usernames": others}, expect=201)
    assert chat["kind"] == "direct" and len(chat["members"]) == 10
    with pytest.raises(ApiError) as err:
        await people[0].call("POST", "/api/v1/direct", {"usernames": [p.user["username"] for p in people[1:]]})
    assert err.value.status == 422
    with pytest.raises(ApiError) as err:
        await people[10].call("GET", f"/api/v1/rooms/{chat['id']}/messages")
    assert err.value.status == 404
