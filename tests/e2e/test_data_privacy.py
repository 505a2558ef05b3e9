"""Export my data and delete my account, against a real server: the zip unpacked and read, a file in
it byte for byte, the rate limit, and a deletion that closes the user's open socket at once."""

from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import quote

from tests.conftest import new_user
from tests.support.client import Socket

PASSWORD = "a long enough secret"


async def _export(http, server, api) -> tuple[int, dict[str, str], bytes]:
    async with http.get(server.url + "/api/v1/me/export", headers={"Authorization": f"Bearer {api.token}"}) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_export_holds_only_my_data_and_my_files(server, http, names):
    ann, bob = await new_user(http, server.url, names("ann")), await new_user(http, server.url, names("bob"))
    room = await ann.create_room(names("export"))
    rid = room["id"]
    await bob.join(rid)
    content = bytes(range(256)) * 40
    upload = await ann.upload(rid, "scan.bin", content)
    first = await ann.call("POST", f"/api/v1/rooms/{rid}/messages", {"text": "first words", "client_msg_id": "x1"})
    await ann.call("POST", f"/api/v1/rooms/{rid}/messages",
                   {"text": "see file", "client_msg_id": "x2", "attachments": [upload["id"]]})
    await ann.call("PATCH", f"/api/v1/rooms/{rid}/messages/{first['seq']}", {"text": "first words, edited"})
    other = await bob.send(rid, "bob's own words")
    reply = await ann.call("POST", f"/api/v1/rooms/{rid}/messages",
                           {"text": "answer", "client_msg_id": "x3", "reply_to": other["seq"]})
    await ann.call("PUT", f"/api/v1/rooms/{rid}/messages/{other['seq']}/reactions/{quote('👍')}")

    status, headers, body = await _export(http, server, ann)
    assert status == 200 and headers["Content-Type"] == "application/zip"
    assert headers["Cache-Control"] == "private, no-store" and "attachment" in headers["Content-Disposition"]
    zf = zipfile.ZipFile(io.BytesIO(body))
    assert zf.testzip() is None
    names_in = set(zf.namelist())
    file_name = f"uploads/{upload['id']}-scan.bin"
    assert {"README.txt", "profile.json", "rooms.json", "messages.json", "reactions.json", file_name} == names_in
    assert zf.read(file_name) == content
    profile = json.loads(zf.read("profile.json"))
    assert profile["id"] == ann.user["id"] and profile["username"] == ann.user["username"]
    rooms = json.loads(zf.read("rooms.json"))
    assert [(r["id"], r["role"], r["state"]) for r in rooms] == [(rid, "owner", "joined")]
    messages = json.loads(zf.read("messages.json"))
    assert [m["text"] for m in messages] == ["first words, edited", "see file", "answer"]  # never bob's
    assert [e["text"] for e in messages[0]["edits"]] == ["first words"]
    assert messages[1]["attachments"][0]["file"] == file_name
    assert messages[2]["reply_to"] == other["seq"] and messages[2]["seq"] == reply["seq"]
    reacted = json.loads(zf.read("reactions.json"))
    assert [(r["room"], r["seq"], r["emoji"]) for r in reacted] == [(rid, other["seq"], "👍")]
    assert "messages.json" in zf.read("README.txt").decode()

    again, _, body = await _export(http, server, ann)  # one a minute
    assert again == 429 and json.loads(body)["error"]["code"] == "rate_limited"
    async with http.get(server.url + "/api/v1/me/export") as resp:
        assert resp.status == 401


async def test_delete_account_revokes_at_once(server, http, names):
    ann, bob = await new_user(http, server.url, names("ann")), await new_user(http, server.url, names("bob"))
    room = await ann.create_room(names("goodbye"))
    await bob.join(room["id"])
    await ann.send(room["id"], "last words")
    sock = await Socket.open(http, server.url, ann.token)
    watcher = await Socket.open(http, server.url, bob.token)

    wrong = await ann.call("DELETE", "/api/v1/me", {"password": "not my password"}, expect=403)
    assert wrong["error"]["code"] == "forbidden"
    await ann.call("DELETE", "/api/v1/me", {"password": PASSWORD}, expect=204)
    await sock.closed.wait()
    assert sock.ws.close_code == 4001
    left = await watcher.wait_for(lambda f: f.get("type") == "member_left")
    assert left["user"]["id"] == ann.user["id"] and left["user"]["display_name"] == "Deleted user"
    owner = await watcher.wait_for(lambda f: f.get("type") == "member_updated")
    assert owner["user"]["id"] == bob.user["id"] and owner["role"] == "owner"
    gone = await ann.call("GET", "/api/v1/me", expect=401)
    assert gone["error"]["code"] == "unauthorized"
    history = await bob.history(room["id"])
    said = [m for m in history["messages"] if m["type"] == "message"]
    assert [(m["text"], m["sender"]["display_name"]) for m in said] == [("last words", "Deleted user")]
    await watcher.close()
