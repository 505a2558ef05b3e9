"""Message actions (issue 10) through a real server: REST and WebSocket frames between two users,
resume after being offline, bad input and permissions."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import new_user
from tests.support.client import ApiError, Socket

THUMBS, FAMILY, FLAG = "👍", "👩‍👩‍👧", "🇯🇵"


def _reaction_path(room: int, seq: int, emoji: str) -> str:
    return f"/api/v1/rooms/{room}/messages/{seq}/reactions/{quote(emoji, safe='')}"


async def _pair(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = (await ann.create_room(names("room")))["id"]
    await bob.join(room)
    return ann, bob, room


async def test_actions_over_websocket_reach_the_other_user_live(server, http, names):
    ann, bob, room = await _pair(server, http, names)
    ann_sock = await Socket.open(http, server.url, ann.token)
    bob_sock = await Socket.open(http, server.url, bob.token)
    ack = await ann_sock.send_message(room, "first version")
    seq = ack["seq"]

    await ann_sock.send({"type": "edit", "room": room, "seq": seq, "text": "second version", "ref": "e1"})
    done = await ann_sock.wait_for(lambda f: f.get("ref") == "e1")
    assert done == {"type": "done", "room": room, "seq": seq, "changed": True, "ref": "e1"}
    edited = await bob_sock.wait_for(lambda f: f["type"] == "message_edited")
    assert (edited["target"], edited["text"], edited["sender"]["id"]) == (seq, "second version", ann.user["id"])

    await bob_sock.send({"type": "react", "room": room, "seq": seq, "emoji": FAMILY, "ref": "r1"})
    assert (await bob_sock.wait_for(lambda f: f.get("ref") == "r1"))["changed"] is True
    added = await ann_sock.wait_for(lambda f: f["type"] == "reaction_added")
    assert (added["target"], added["emoji"], added["user"]) == (seq, FAMILY, bob.user["id"])
    await bob_sock.send({"type": "react", "room": room, "seq": seq, "emoji": FAMILY, "ref": "r2"})
    assert (await bob_sock.wait_for(lambda f: f.get("ref") == "r2"))["changed"] is False  # idempotent

    reply = await bob_sock.send_message(room, "answer")  # plain send, then a reply and a thread reply
    await bob_sock.send({"type": "send", "room": room, "text": "re", "reply_to": seq, "client_msg_id": "rp",
                         "ref": "s1"})
    assert (await bob_sock.wait_for(lambda f: f.get("ref") == "s1"))["type"] == "ack"
    got = await ann_sock.wait_for(lambda f: f["type"] == "message" and f.get("client_msg_id") == "rp")
    assert got["reply_to"] == seq
    await bob_sock.send({"type": "send", "room": room, "text": "t", "thread_root": seq, "client_msg_id": "th",
                         "ref": "s2"})
    threaded = await ann_sock.wait_for(lambda f: f["type"] == "message" and f.get("client_msg_id") == "th")
    assert threaded["thread_root"] == seq and threaded["thread_participants"] == [ann.user["id"]]

    await ann_sock.send({"type": "delete", "room": room, "seq": seq, "ref": "d1"})
    assert (await ann_sock.wait_for(lambda f: f.get("ref") == "d1"))["changed"] is True
    deleted = await bob_sock.wait_for(lambda f: f["type"] == "message_deleted")
    assert (deleted["target"], deleted["by"]) == (seq, ann.user["id"])
    history = {m["seq"]: m for m in (await bob.history(room))["messages"]}
    assert history[seq]["deleted"] is True and history[seq]["text"] == "" and "reactions" not in history[seq]
    assert history[reply["seq"]]["text"] == "answer"
    await ann_sock.close()
    await bob_sock.close()


async def test_bad_action_frames_get_error_frames(server, http, names):
    ann, bob, room = await _pair(server, http, names)
    seq = (await ann.send(room, "ann's"))["seq"]
    sock = await Socket.open(http, server.url, bob.token)
    cases = [({"type": "edit", "room": room, "seq": seq, "text": "mine now"}, "forbidden"),
             ({"type": "delete", "room": room, "seq": seq}, "forbidden"),
             ({"type": "react", "room": room, "seq": seq, "emoji": "not one"}, "invalid"),
             ({"type": "react", "room": room, "seq": 10_000, "emoji": THUMBS}, "not_found"),
             ({"type": "edit", "room": 10_000, "seq": seq, "text": "x"}, "not_found"),
             ({"type": "edit", "room": room, "seq": -1, "text": "x"}, "invalid"),
             ({"type": "react", "room": room, "seq": seq}, "invalid"),
             ({"type": "send", "room": room, "text": "x", "reply_to": 10_000}, "invalid")]
    for i, (frame, code) in enumerate(cases):
        await sock.send({**frame, "ref": i})
        answer = await sock.wait_for(lambda f, i=i: f.get("ref") == i)
        assert (answer["type"], answer["code"]) == ("error", code), frame
    await sock.close()


async def test_resume_after_being_offline_shows_edits_deletes_and_reactions(server, http, names):
    ann, bob, room = await _pair(server, http, names)
    kept = (await ann.send(room, "will be edited"))["seq"]
    gone = (await ann.send(room, "will be deleted"))["seq"]
    liked = (await ann.send(room, "will be liked"))["seq"]
    bob_sock = await Socket.open(http, server.url, bob.token)
    cursor = bob_sock.frames[0]["rooms"][str(room)]
    await bob_sock.close()

    await ann.call("PATCH", f"/api/v1/rooms/{room}/messages/{kept}", {"text": "edited while bob was away"})
    await ann.call("DELETE", f"/api/v1/rooms/{room}/messages/{gone}", expect=204)
    await ann.call("PUT", _reaction_path(room, liked, FLAG), expect=204)
    await ann.call("PUT", f"/api/v1/rooms/{room}/pins/{liked}", expect=204)

    again = await Socket.open(http, server.url, bob.token)
    await again.send({"type": "resume", "cursors": {str(room): cursor}})
    await again.wait_for(lambda f: f["type"] == "resumed")
    replayed = [(f["type"], f.get("target")) for f in again.events(room)]
    assert replayed == [("message_edited", kept), ("message_deleted", gone), ("reaction_added", liked),
                        ("message_pinned", liked)]
    assert again.events(room, "message_edited")[0]["text"] == "edited while bob was away"
    # A fresh history page shows the same end state.
    page = {m["seq"]: m for m in (await bob.history(room))["messages"]}
    assert page[kept]["text"] == "edited while bob was away" and page[kept]["edited_at"] > 0
    assert page[gone]["deleted"] is True and page[gone]["text"] == ""
    assert page[liked]["reactions"] == [{"emoji": FLAG, "count": 1, "me": False}] and page[liked]["pinned"] is True
    await again.close()


async def test_rest_actions_refuse_bad_input_and_outsiders(server, http, names):
    ann, bob, room = await _pair(server, http, names)
    eve = await new_user(http, server.url, names())
    seq = (await ann.send(room, "ann's message"))["seq"]
    base = f"/api/v1/rooms/{room}/messages"

    async def code(api, method, path, body=None):
        with pytest.raises(ApiError) as err:
            await api.call(method, path, body, expect=(200, 201, 204))
        return err.value.status, err.value.code

    assert await code(bob, "PATCH", f"{base}/{seq}", {"text": "hijack"}) == (403, "forbidden")
    assert await code(bob, "DELETE", f"{base}/{seq}") == (403, "forbidden")
    assert await code(ann, "PATCH", f"{base}/999999", {"text": "x"}) == (404, "not_found")
    assert await code(ann, "PATCH", f"{base}/{seq}", {"text": ""}) == (422, "invalid")
    assert await code(ann, "PATCH", f"{base}/{seq}", {"text": "x", "extra": 1}) == (422, "invalid")
    for bad in ("x", ":smile:", "👍👍", "%F0%9F", "<img src=x onerror=alert(1)>"):
        assert await code(bob, "PUT", f"{base}/{seq}/reactions/{quote(bad, safe='%')}") == (422, "invalid"), bad
    assert await code(bob, "PUT", f"/api/v1/rooms/{room}/pins/{seq}") == (403, "forbidden")
    for method, path in [("PATCH", f"{base}/{seq}"), ("DELETE", f"{base}/{seq}"), ("GET", f"{base}/{seq}/versions"),
                         ("PUT", _reaction_path(room, seq, THUMBS)), ("GET", f"/api/v1/rooms/{room}/pins"),
                         ("PUT", f"/api/v1/rooms/{room}/pins/{seq}"), ("GET", f"/api/v1/rooms/{room}/threads/{seq}")]:
        assert await code(eve, method, path, {"text": "x"} if method == "PATCH" else None) == (404, "not_found")
    await ann.call("DELETE", f"{base}/{seq}", expect=204)
    assert await code(ann, "PATCH", f"{base}/{seq}", {"text": "again"}) == (404, "not_found")
    assert await code(bob, "PUT", _reaction_path(room, seq, THUMBS)) == (404, "not_found")


async def test_status_reaches_people_sharing_a_room(server, http, names):
    ann, bob, _ = await _pair(server, http, names)
    ann_sock = await Socket.open(http, server.url, ann.token)
    me = await bob.call("PATCH", "/api/v1/me", {"status": "on holiday 🏖"})
    assert me["status"] == "on holiday 🏖" and me["display_name"] == bob.user["display_name"]
    frame = await ann_sock.wait_for(lambda f: f["type"] == "user_updated")
    assert frame["user"]["status"] == "on holiday 🏖"
    with pytest.raises(ApiError) as err:
        await bob.call("PATCH", "/api/v1/me", {"status": "x" * 81})
    assert err.value.status == 422
    with pytest.raises(ApiError) as err:
        await bob.call("PATCH", "/api/v1/me", {})
    assert err.value.status == 422
    await ann_sock.close()
