"""Room roles and their rights, as members see them."""

from __future__ import annotations

import pytest

from tests.conftest import FAST_LIMITS, new_user
from tests.support.client import ApiError, Socket
from tests.support.server import ServerProcess


async def _refused(call, status: int = 403) -> None:
    with pytest.raises(ApiError) as err:
        await call
    assert err.value.status == status, err.value.body


async def test_roles_grant_invite_topic_and_archive(server, http, names):
    owner, bob, cat, dan = [await new_user(http, server.url, names()) for _ in range(4)]
    room = await owner.create_room("ranked", visibility="private")
    rid = room["id"]
    await owner.call("POST", f"/api/v1/rooms/{rid}/invite", {"usernames": [bob.user["username"]]})
    await bob.join(rid)
    owner_sock = await Socket.open(http, server.url, owner.token)

    # A plain member may not invite into a private room, nor change the topic or roles.
    await _refused(bob.call("POST", f"/api/v1/rooms/{rid}/invite", {"username": cat.user["username"]}))
    await _refused(bob.call("PATCH", f"/api/v1/rooms/{rid}", {"topic": "mine"}))
    await _refused(bob.call("PATCH", f"/api/v1/rooms/{rid}/members/{owner.user['id']}", {"role": "member"}))

    made = await owner.call("PATCH", f"/api/v1/rooms/{rid}/members/{bob.user['id']}", {"role": "moderator"})
    assert made["role"] == "moderator"
    event = await owner_sock.wait_for(lambda f: f["type"] == "member_updated")
    assert event["user"]["id"] == bob.user["id"] and event["role"] == "moderator"
    await bob.call("POST", f"/api/v1/rooms/{rid}/invite", {"username": cat.user["username"]})
    await cat.join(rid)
    await _refused(bob.call("PATCH", f"/api/v1/rooms/{rid}", {"topic": "mod topic"}))

    await owner.call("PATCH", f"/api/v1/rooms/{rid}/members/{bob.user['id']}", {"role": "admin"})
    assert (await bob.call("PATCH", f"/api/v1/rooms/{rid}", {"topic": "admin topic"}))["topic"] == "admin topic"
    # An admin manages roles below their own, never an equal or the owner, nor grants admin.
    await bob.call("PATCH", f"/api/v1/rooms/{rid}/members/{cat.user['id']}", {"role": "moderator"})
    await _refused(bob.call("PATCH", f"/api/v1/rooms/{rid}/members/{cat.user['id']}", {"role": "admin"}))
    await _refused(bob.call("PATCH", f"/api/v1/rooms/{rid}/members/{owner.user['id']}", {"role": "member"}))
    await _refused(bob.call("PATCH", f"/api/v1/rooms/{rid}", {"archived": True}))
    await _refused(owner.call("PATCH", f"/api/v1/rooms/{rid}/members/{dan.user['id']}", {"role": "member"}), 404)

    roles = {m["user"]["id"]: m["role"] for m in (await owner.call("GET", f"/api/v1/rooms/{rid}/members"))["members"]}
    assert roles == {owner.user["id"]: "owner", bob.user["id"]: "admin", cat.user["id"]: "moderator"}

    archived = await owner.call("PATCH", f"/api/v1/rooms/{rid}", {"archived": True})
    assert archived["archived"] is True
    await _refused(cat.send(rid, "too late"))
    await _refused(cat.call("PATCH", f"/api/v1/rooms/{rid}", {"topic": "x"}))
    history = await cat.history(rid)
    assert history["messages"][-1]["type"] == "room_updated"


async def test_public_rooms_listing_and_membership(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    tag = names("pub")
    public = await ann.create_room(f"{tag} open", topic="all welcome")
    await ann.create_room(f"{tag} closed", visibility="private")
    listed = (await bob.call("GET", f"/api/v1/rooms/public?q={tag}"))["rooms"]
    assert [r["name"] for r in listed] == [f"{tag} open"] and listed[0]["member_count"] == 1
    assert listed[0]["topic"] == "all welcome"
    joined = await bob.join(public["id"])
    assert joined["my_role"] == "member" and joined["member_count"] == 2
    again = await bob.join(public["id"])  # joining twice changes nothing
    assert again["last_seq"] == joined["last_seq"]
    mine = [r["id"] for r in (await bob.call("GET", "/api/v1/rooms"))["rooms"]]
    assert public["id"] in mine
    await bob.call("POST", f"/api/v1/rooms/{public['id']}/leave")
    mine = [r["id"] for r in (await bob.call("GET", "/api/v1/rooms"))["rooms"]]
    assert public["id"] not in mine
    listed = (await bob.call("GET", f"/api/v1/rooms/public?q={tag}"))["rooms"]
    assert listed[0]["member_count"] == 1


async def test_a_taken_public_name_and_the_last_owner_leaving_are_409(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    tag = names("name")
    room = await ann.create_room(f"{tag} Hall")
    with pytest.raises(ApiError) as err:
        await bob.create_room(f"{tag} HALL")
    assert (err.value.status, err.value.code) == (409, "conflict")
    other = await bob.create_room(f"{tag} yard")
    with pytest.raises(ApiError) as err:
        await bob.call("PATCH", f"/api/v1/rooms/{other['id']}", {"name": f"{tag} hall"})
    assert (err.value.status, err.value.code) == (409, "conflict")
    await bob.create_room(f"{tag} hall", visibility="private")  # private names are anyone's

    rid = room["id"]
    await bob.join(rid)
    ann_sock = await Socket.open(http, server.url, ann.token)
    with pytest.raises(ApiError) as err:
        await ann.call("POST", f"/api/v1/rooms/{rid}/leave")
    assert (err.value.status, err.value.code) == (409, "conflict") and "owner" in err.value.body["error"]["message"]

    made = await ann.call("PATCH", f"/api/v1/rooms/{rid}/members/{bob.user['id']}", {"role": "owner"})
    assert made["role"] == "owner"
    updates = await ann_sock.wait_count(lambda f: f["type"] == "member_updated", 2)
    assert [(f["user"]["id"], f["role"]) for f in updates] == [(bob.user["id"], "owner"), (ann.user["id"], "admin")]
    await ann.call("POST", f"/api/v1/rooms/{rid}/leave")
    assert (await bob.call("GET", f"/api/v1/rooms/{rid}"))["my_role"] == "owner"


async def test_a_server_admin_opens_any_room_and_names_its_owner(tmp_path, http, names):
    proc = ServerProcess(f"sqlite:///{tmp_path / 'parley.db'}", tmp_path, env=FAST_LIMITS).start()
    try:
        root = await new_user(http, proc.url, names())  # the first account administers the server
        ann, bob, eve = [await new_user(http, proc.url, names()) for _ in range(3)]
        assert (root.user["is_admin"], ann.user["is_admin"]) == (True, False)
        room = await ann.create_room("vault", visibility="private")
        rid = room["id"]
        await ann.call("POST", f"/api/v1/rooms/{rid}/invite", {"username": bob.user["username"]})
        await bob.join(rid)
        for path in (f"/api/v1/rooms/{rid}", f"/api/v1/rooms/{rid}/members"):
            await _refused(eve.call("GET", path), 404)
        assert (await root.call("GET", f"/api/v1/rooms/{rid}"))["name"] == "vault"
        members = (await root.call("GET", f"/api/v1/rooms/{rid}/members"))["members"]
        assert {m["user"]["id"] for m in members} == {ann.user["id"], bob.user["id"]}
        await _refused(root.history(rid), 404)  # settings, not the conversation
        assert (await root.call("PATCH", f"/api/v1/rooms/{rid}", {"topic": "audited"}))["topic"] == "audited"
        made = await root.call("PATCH", f"/api/v1/rooms/{rid}/members/{bob.user['id']}", {"role": "owner"})
        assert made["role"] == "owner"
        assert (await ann.call("GET", f"/api/v1/rooms/{rid}"))["my_role"] == "admin"
    finally:
        proc.stop()
