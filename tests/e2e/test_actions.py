"""Message actions (issue 10) through a real server: REST and WebSocket frames between two users,
resume after being offline, bad input and permissions; reports and blocks (issue 11) at the end."""

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


# -- reports and blocks (issue 11): here to share this module's server ---------------------------------
async def test_a_report_reaches_the_moderator_live_and_its_resolution_the_reporter(server, http, names):
    own, ann, bob = [await new_user(http, server.url, names()) for _ in range(3)]
    room = (await own.create_room(names("room")))["id"]
    await ann.join(room)
    await bob.join(room)
    sockets = {who: await Socket.open(http, server.url, api.token) for who, api in
               (("own", own), ("ann", ann), ("bob", bob))}
    seq = (await bob.send(room, "cheap pills here"))["seq"]
    path = f"/api/v1/rooms/{room}/messages/{seq}/report"

    made = await ann.call("POST", path, {"reason": "spam", "note": "again"}, expect=201)
    added = await sockets["own"].wait_for(lambda f: f["type"] == "report_added")
    report = added["report"]
    assert (report["id"], report["reason"], report["note"], report["state"]) == (made["id"], "spam", "again", "open")
    assert report["message"]["text"] == "cheap pills here" and report["reporter"]["id"] == ann.user["id"]
    with_error = await _refused(ann.call("POST", path, {"reason": "spam"}))
    assert with_error == (409, "conflict")
    assert await _refused(ann.call("POST", path, {"reason": "eggs"})) == (422, "invalid")
    assert await _refused(own.call("POST", f"/api/v1/rooms/{room}/messages/999/report", {"reason": "spam"})) == (
        404, "not_found")
    queue = await own.call("GET", "/api/v1/reports?state=open")
    assert [r["id"] for r in queue["reports"]] == [made["id"]] and queue["has_more"] is False

    resolved = await own.call("POST", f"/api/v1/reports/{made['id']}/resolve", {"action": "delete", "note": "gone"})
    assert (resolved["state"], resolved["action"], resolved["resolved_by"]["id"]) == ("resolved", "delete",
                                                                                      own.user["id"])
    told = await sockets["ann"].wait_for(lambda f: f["type"] == "report_resolved")
    assert (told["report"]["id"], told["report"]["action"], told["report"]["resolved_by"]) == (
        made["id"], "delete", None)
    seen = await sockets["own"].wait_for(lambda f: f["type"] == "report_resolved")
    assert seen["report"]["resolution_note"] == "gone"
    await sockets["bob"].wait_for(lambda f: f["type"] == "message_deleted" and f["target"] == seq)
    mine = await ann.call("GET", "/api/v1/me/reports")
    assert [(r["id"], r["state"]) for r in mine["reports"]] == [(made["id"], "resolved")]

    # Blocking is silent: bob hears nothing, and cannot start a direct chat with ann.
    await ann.call("PUT", f"/api/v1/me/blocks/{bob.user['id']}", expect=204)
    assert (await ann.call("GET", "/api/v1/me"))["blocked"] == [bob.user["id"]]
    assert await _refused(bob.call("POST", "/api/v1/direct", {"usernames": [ann.user["username"]]})) == (
        403, "forbidden")
    assert await _refused(ann.call("PUT", f"/api/v1/me/blocks/{ann.user['id']}")) == (422, "invalid")
    await ann.call("DELETE", f"/api/v1/me/blocks/{bob.user['id']}", expect=204)
    assert (await ann.call("GET", "/api/v1/me/blocks"))["blocks"] == []

    # Only the handlers and the reporter heard of the report: not its sender, nor anyone else.
    await sockets["bob"].barrier()
    assert not [f for f in sockets["bob"].frames if f["type"].startswith("report_")]
    assert not [f for f in sockets["ann"].frames if f["type"] == "report_added"]
    for sock in sockets.values():
        await sock.close()


async def _refused(call) -> tuple[int, str | None]:
    try:
        await call
    except ApiError as exc:
        return exc.status, exc.code
    return 200, None
