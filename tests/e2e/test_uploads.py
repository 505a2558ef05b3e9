"""Uploads against a real server: storing, attaching, serving with Range and ETag in a sandbox,
who may fetch what, hostile files, limits, quota and collection."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from tests.conftest import FAST_LIMITS, new_user
from tests.support import media
from tests.support.client import ApiError, Socket
from tests.support.server import ServerProcess

LIMIT = 1024 * 1024
QUOTA = 6 * LIMIT


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("uploads")
    env = {**FAST_LIMITS, "PARLEY_MAX_UPLOAD_BYTES": str(LIMIT), "PARLEY_UPLOAD_QUOTA_BYTES": str(QUOTA)}
    proc = ServerProcess(f"sqlite:///{workdir / 'parley.db'}", workdir, env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


def media_files(server: ServerProcess) -> list[Path]:
    root = server.workdir / "var" / "media"
    return [p for p in root.rglob("*") if p.is_file()]


async def _room(http, server, names, visibility="private"):
    ann = await new_user(http, server.url, names("ann"))
    bob = await new_user(http, server.url, names("bob"))
    room = await ann.create_room(names("files"), visibility=visibility)
    if visibility == "private":
        await ann.call("POST", f"/api/v1/rooms/{room['id']}/invite", {"username": bob.user["username"]})
    await bob.join(room["id"])
    return ann, bob, room["id"]


async def test_an_image_is_stripped_turned_thumbnailed_and_attached_live(server, http, names):
    ann, bob, rid = await _room(http, server, names)
    sock = await Socket.open(http, server.url, bob.token)
    up = await ann.upload(rid, "holiday.jpg", media.jpeg_with_gps(40, 20, orientation=6), "image/jpeg")
    assert up["content_type"] == "image/jpeg" and (up["width"], up["height"]) == (20, 40)
    assert up["thumbnail_url"] == f"/media/{up['id']}/thumbnail" and up["url"] == f"/media/{up['id']}/holiday.jpg"
    assert up["duration_ms"] is None and up["waveform"] is None

    # Before it is sent only its uploader sees it.
    assert (await bob.fetch(up["url"]))[0] == 404
    status, headers, body = await ann.fetch(up["url"])
    assert status == 200 and body[:3] == b"\xff\xd8\xff"
    shown = Image.open(io.BytesIO(body))
    assert shown.size == (20, 40) and not shown.getexif() and b"SpyCam" not in body

    ann_sock = await Socket.open(http, server.url, ann.token)
    await ann_sock.send({"type": "send", "room": rid, "text": "look", "attachments": [up["id"]], "ref": 1})
    assert (await ann_sock.wait_for(lambda f: f.get("ref") == 1))["type"] == "ack"
    await ann_sock.close()
    event = await sock.wait_for(lambda f: f["type"] == "message" and f["room"] == rid)
    assert event["text"] == "look" and [a["id"] for a in event["attachments"]] == [up["id"]]
    assert event["attachments"][0] == up
    status, headers, body = await bob.fetch(up["thumbnail_url"])
    assert status == 200 and headers["Content-Type"] == "image/webp"
    assert max(Image.open(io.BytesIO(body)).size) <= 480
    # History carries the same objects, and the room's file list names it.
    history = await bob.history(rid)
    assert history["messages"][-1]["attachments"] == [up]
    files = await bob.call("GET", f"/api/v1/rooms/{rid}/uploads")
    assert [f["id"] for f in files["uploads"]] == [up["id"]] and files["uploads"][0]["seq"] == event["seq"]
    await sock.close()


async def test_attachments_are_checked_in_the_send_batch(server, http, names):
    ann, bob, rid = await _room(http, server, names)
    other = (await ann.create_room(names("other")))["id"]
    a = await ann.upload(rid, "a.txt", b"first file", "text/plain")
    b = await ann.upload(rid, "b.txt", b"second file", "text/plain")
    elsewhere = await ann.upload(other, "c.txt", b"third file", "text/plain")
    mine = await bob.upload(rid, "d.txt", b"bob's file", "text/plain")

    async def refused(user, room, ids, text=""):
        body = await user.call("POST", f"/api/v1/rooms/{room}/messages", {"text": text, "attachments": ids},
                               expect=(404, 422))
        return body["error"]["code"]

    assert await refused(ann, rid, [mine["id"]]) == "invalid"  # someone else's
    assert await refused(ann, rid, [elsewhere["id"]]) == "invalid"  # another room's
    assert await refused(ann, rid, [999999]) == "invalid"
    assert await refused(ann, rid, [a["id"], a["id"]]) == "invalid"
    assert await refused(ann, rid, list(range(1, 12))) == "invalid"  # more than 10
    # No text and no attachments is still refused; attachments alone are a message.
    assert (await ann.call("POST", f"/api/v1/rooms/{rid}/messages", {"text": ""}, expect=422))["error"]["code"] == "invalid"
    sent = await ann.call("POST", f"/api/v1/rooms/{rid}/messages", {"attachments": [a["id"], b["id"]]}, expect=201)
    assert sent["text"] == "" and [x["name"] for x in sent["attachments"]] == ["a.txt", "b.txt"]
    assert await refused(ann, rid, [a["id"]]) == "invalid"  # attached once
    # Two sends racing for one upload in one batch: one wins.
    c = await ann.upload(rid, "e.txt", b"contested", "text/plain")
    sock = await Socket.open(http, server.url, ann.token)
    for ref in (1, 2):
        await sock.send({"type": "send", "room": rid, "attachments": [c["id"]], "ref": ref})
    answers = [await sock.wait_for(lambda f, r=r: f.get("ref") == r and f["type"] in ("ack", "error")) for r in (1, 2)]
    assert sorted(f["type"] for f in answers) == ["ack", "error"]
    await sock.close()


async def test_ranges_etags_and_sandbox_headers(server, http, names):
    ann, bob, rid = await _room(http, server, names)
    data = bytes(range(256)) * 40
    up = await ann.upload(rid, "data.bin", data)
    await ann.call("POST", f"/api/v1/rooms/{rid}/messages", {"attachments": [up["id"]]}, expect=201)
    status, headers, body = await bob.fetch(up["url"])
    assert status == 200 and body == data and headers["Accept-Ranges"] == "bytes"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert headers["Content-Disposition"].startswith("attachment;")
    for first, last in ((0, 99), (5000, 5100), (10000, 10239)):  # seek, seek again, the very end
        status, headers, body = await bob.fetch(up["url"], {"Range": f"bytes={first}-{last}"})
        assert status == 206 and body == data[first:last + 1]
        assert headers["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
    status, headers, body = await bob.fetch(up["url"], {"Range": "bytes=-10"})
    assert status == 206 and body == data[-10:]
    status, headers, _ = await bob.fetch(up["url"], {"Range": f"bytes={len(data)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(data)}"
    etag = (await bob.fetch(up["url"]))[1]["ETag"]
    status, _, body = await bob.fetch(up["url"], {"If-None-Match": etag})
    assert status == 304 and body == b""


async def test_only_readers_of_the_room_get_the_file(server, http, names):
    ann, bob, rid = await _room(http, server, names)
    stranger = await new_user(http, server.url, names("eve"))
    up = await ann.upload(rid, "p.png", media.png(), "image/png")
    await ann.call("POST", f"/api/v1/rooms/{rid}/messages", {"attachments": [up["id"]]}, expect=201)
    for url in (up["url"], up["thumbnail_url"]):
        assert (await bob.fetch(url))[0] == 200
        assert (await stranger.fetch(url))[0] == 404
        assert (await ann.fetch(url, auth=False))[0] == 404
    assert (await stranger.call("GET", f"/api/v1/rooms/{rid}/uploads", expect=404))["error"]["code"] == "not_found"
    await bob.call("POST", f"/api/v1/rooms/{rid}/leave")
    for url in (up["url"], up["thumbnail_url"]):
        assert (await bob.fetch(url))[0] == 404
    # A cookie works as well as a bearer token (the browser's <img>).
    async with http.get(server.url + up["url"], headers={"Cookie": f"parley_session={ann.token}"}) as resp:
        assert resp.status == 200
    # Stranger uploads to a room they are not in: 404, nothing read.
    assert (await stranger.upload(rid, "x.txt", b"x", expect=404))["error"]["code"] == "not_found"


async def raw_upload(api, rid: int, filename: str, data: bytes, extra: str = "") -> dict:
    """A multipart body written by hand: the file name goes as it is, unescaped."""
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"{extra}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    answer = await api.call("POST", f"/api/v1/rooms/{rid}/uploads", raw=body, expect=201,
                            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    return answer["upload"]


HOSTILE = {
    "page.html": (media.HTML, "text/html", "application/octet-stream"),
    "logo.svg": (media.SVG, "image/svg+xml", "application/octet-stream"),
    "cat.jpg": (media.jpeg_html_polyglot(), "image/jpeg", "image/jpeg"),
    "notes.png": (b"just some text, not a picture\n", "image/png", "text/plain; charset=utf-8"),
    "broken.png": (media.truncated_png(), "image/png", "application/octet-stream"),
}


async def test_hostile_files_have_safe_outcomes(server, http, names):
    ann, bob, rid = await _room(http, server, names)
    for name, (data, claimed, served) in HOSTILE.items():
        up = await ann.upload(rid, name, data, claimed)
        status, headers, body = await ann.fetch(up["url"])
        assert status == 200, name
        assert headers["Content-Type"] == served, name
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in headers["Content-Security-Policy"]
        inline = served == "image/jpeg"
        assert headers["Content-Disposition"].startswith("inline;" if inline else "attachment;"), name
        if name == "cat.jpg":  # decoded and written again: the HTML tail is gone
            assert b"<script" not in body and up["width"] == 16
        if name == "broken.png":
            assert up["thumbnail_url"] is None and up["width"] is None
    # Names, sent raw as a hostile client would: no path, no bidi override, no control characters.
    up = await raw_upload(ann, rid, "../../etc/passwd", b"root:x:0:0")
    assert up["name"] == "passwd" and up["url"] == f"/media/{up['id']}/passwd"
    up = await raw_upload(ann, rid, "..\\..\\boot.ini", b"[boot]")
    assert up["name"] == "boot.ini"
    up = await raw_upload(ann, rid, "invoice\u202egpj.exe", b"MZ not really")
    assert up["name"] == "invoicegpj.exe"
    up = await raw_upload(ann, rid, "", b"x", extra="; filename*=UTF-8''a%01b%1B%5B31m%E2%80%AE.txt")
    assert up["name"] == "ab[31m.txt"
    # Raw control characters in a header are refused by the HTTP parser itself.
    with pytest.raises(ApiError) as refused:
        await raw_upload(ann, rid, "a\x01b.txt", b"x")
    assert refused.value.status == 400 and refused.value.body["error"]["code"] == "bad_request"
    up = await ann.upload(rid, "x" * 400 + ".pdf", b"%PDF-1.4 tiny")
    assert len(up["name"]) == 180 and up["name"].endswith(".pdf") and up["content_type"] == "application/pdf"
    # Empty, exactly the limit, one byte more.
    assert (await ann.upload(rid, "empty.txt", b"", expect=422))["error"]["code"] == "invalid"
    exact = await ann.upload(rid, "exact.bin", b"\x01" * LIMIT)
    assert exact["size"] == LIMIT
    refused = await ann.upload(rid, "over.bin", b"\x01" * (LIMIT + 1), expect=413)
    assert refused["error"]["code"] == "payload_too_large"


async def test_a_png_bomb_is_never_decoded(server, http, names):
    ann, _, rid = await _room(http, server, names)
    up = await ann.upload(rid, "bomb.png", media.png_bomb(), "image/png")
    assert up["content_type"] == "application/octet-stream" and up["width"] is None and up["thumbnail_url"] is None
    status, headers, _ = await ann.fetch(up["url"])
    assert status == 200 and headers["Content-Disposition"].startswith("attachment;")


async def test_voice_and_video_are_probed(server, http, names, tmp_path):
    ann, bob, rid = await _room(http, server, names)
    voice = await ann.upload(rid, "voice.webm", media.voice(tmp_path / "v.webm", 2.0, fmt="webm"), "video/webm")
    assert voice["content_type"] == "audio/webm" and 1900 <= voice["duration_ms"] <= 2200
    wave = voice["waveform"]
    assert len(wave) == 64 and all(0 <= v <= 255 for v in wave) and max(wave[32:]) == 255 and max(wave[:28]) < 64
    clip = await ann.upload(rid, "clip.webm", media.video(tmp_path / "c.webm", frames=24, fps=12), "video/webm")
    assert clip["content_type"] == "video/webm" and (clip["width"], clip["height"]) == (160, 120)
    assert 1900 <= clip["duration_ms"] <= 2100 and clip["thumbnail_url"]
    ogg = await ann.upload(rid, "memo.ogg", media.voice(tmp_path / "m.ogg", 1.0), "audio/ogg")
    assert ogg["content_type"] == "audio/ogg" and ogg["waveform"]
    status, headers, _ = await ann.fetch(clip["url"])
    assert status == 200 and headers["Content-Disposition"].startswith("inline;")


async def test_identical_files_are_stored_once_and_gc_collects_unattached(server, http, names):
    ann, bob, rid = await _room(http, server, names)
    data = b"the same bytes, twice " + names("x").encode()
    first = await ann.upload(rid, "one.txt", data)
    second = await bob.upload(rid, "two.txt", data)
    assert first["id"] != second["id"]
    holding = [p for p in media_files(server) if p.read_bytes() == data]
    assert len(holding) == 1
    await bob.call("POST", f"/api/v1/rooms/{rid}/messages", {"attachments": [second["id"]]}, expect=201)
    # Both are a day old now: the collector removes the unattached one only, and the blob stays.
    db = sqlite3.connect(server.database_url.removeprefix("sqlite:///"))
    db.execute("UPDATE uploads SET created_at = created_at - 90000000 WHERE id IN (?, ?)", (first["id"], second["id"]))
    db.commit()
    db.close()
    out = await _collect(server)
    assert b"removed 1 " in out, out
    assert (await ann.fetch(first["url"]))[0] == 404
    assert (await bob.fetch(second["url"]))[2] == data
    assert len([p for p in media_files(server) if p.read_bytes() == data]) == 1


async def _collect(server: ServerProcess) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "parley", "media", "collect", "--database-url", server.database_url,
        cwd=server.workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out
    return out


async def test_collect_sweeps_blobs_a_crash_left_without_a_row(server, http, names):
    """A blob written just before a kill -9, before its row was committed, is never served: once a
    day old it is collected. A fresh one (an upload in progress) stays, and so does every blob a row
    names, however old."""
    ann, bob, rid = await _room(http, server, names)
    image = await ann.upload(rid, "kept.png", media.png(64, 48), "image/png")
    await ann.call("POST", f"/api/v1/rooms/{rid}/messages", {"attachments": [image["id"]]}, expect=201)
    waiting = await bob.upload(rid, "not-sent-yet.txt", b"attached later " + names("w").encode())
    root = server.workdir / "var" / "media"
    day_old = time.time() - 2 * 86_400

    def blob_file(data: bytes, mtime: float | None = None) -> Path:
        key = hashlib.sha256(data).hexdigest()
        path = root / key[:2] / key[2:4] / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    orphan = blob_file(b"killed before the commit " + names("o").encode(), day_old)
    fresh = blob_file(b"an upload in progress " + names("f").encode())
    named = [p for p in media_files(server) if p not in (orphan, fresh)]
    for path in named:  # every blob a row names (the image, its thumbnail, bob's file...) is old too
        os.utime(path, (day_old, day_old))
    out = await _collect(server)
    assert b"and 1 orphan file(s)" in out, out
    assert not orphan.exists() and fresh.exists()
    assert all(p.exists() for p in named)
    assert (await bob.fetch(image["url"]))[0] == 200 and (await bob.fetch(image["thumbnail_url"]))[0] == 200
    assert (await bob.fetch(waiting["url"]))[0] == 200
    await bob.call("POST", f"/api/v1/rooms/{rid}/messages", {"attachments": [waiting["id"]]}, expect=201)


async def test_quota_is_per_user(server, http, names):
    ann, _, rid = await _room(http, server, names)
    for i in range(QUOTA // LIMIT - 1):
        await ann.upload(rid, f"{i}.bin", bytes([i]) * LIMIT)
    await ann.upload(rid, "half.bin", b"\xaa" * (LIMIT // 2))
    # Received, then refused when its size is known: its bytes are not kept.
    before = set(media_files(server))
    refused = await ann.upload(rid, "too-much.bin", b"\xbb" * LIMIT, expect=413)
    assert refused["error"]["code"] == "quota_exceeded"
    assert set(media_files(server)) == before
    await ann.upload(rid, "fits.bin", b"\xcc" * (LIMIT // 2))
    # Full: refused before a byte is read.
    refused = await ann.upload(rid, "more.bin", b"more", expect=413)
    assert refused["error"]["code"] == "quota_exceeded"


async def test_an_upload_cut_off_leaves_no_file(server, http, names):
    ann, _, rid = await _room(http, server, names)
    before = set(media_files(server))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    boundary = "cut"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    writer.write((f"POST /api/v1/rooms/{rid}/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ann.token}\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {LIMIT}\r\n\r\n").encode()
                 + head + b"\x02" * (LIMIT // 2))
    await writer.drain()
    # The server has spooled part of it: a temporary file exists while the request is open.
    for _ in range(100):
        if any(p.suffix == ".part" for p in media_files(server)):
            break
        await asyncio.sleep(0.05)
    assert any(p.suffix == ".part" for p in media_files(server))
    writer.close()
    for _ in range(100):
        if set(media_files(server)) == before:
            break
        await asyncio.sleep(0.05)
    assert set(media_files(server)) == before


async def test_avatars_are_square_and_announced(server, http, names):
    ann, bob, rid = await _room(http, server, names)
    stranger = await new_user(http, server.url, names("eve"))
    sock = await Socket.open(http, server.url, bob.token)
    assert ann.user["avatar_url"] is None
    me = await ann.upload(0, "me.jpg", media.jpeg_with_gps(300, 120), "image/jpeg", path="/api/v1/me/avatar",
                          method="PUT", expect=200)
    url = me["avatar_url"]
    assert url.startswith(f"/media/avatars/{ann.user['id']}/")
    frame = await sock.wait_for(lambda f: f["type"] == "user_updated" and f["user"]["id"] == ann.user["id"])
    assert frame["user"]["avatar_url"] == url
    status, headers, body = await stranger.fetch(url)  # any logged-in user sees avatars
    assert status == 200 and headers["Content-Type"] == "image/webp"
    picture = Image.open(io.BytesIO(body))
    assert picture.size == (256, 256) and not picture.getexif()
    assert (await stranger.fetch(url, auth=False))[0] == 404
    # Messages and member lists show it too.
    await ann.send(rid, "with a face")
    assert (await bob.history(rid))["messages"][-1]["sender"]["avatar_url"] == url
    members = (await bob.call("GET", f"/api/v1/rooms/{rid}/members"))["members"]
    assert {m["user"]["id"]: m["user"]["avatar_url"] for m in members}[ann.user["id"]] == url
    refused = await ann.upload(0, "x.txt", b"not a picture", path="/api/v1/me/avatar", method="PUT", expect=422)
    assert refused["error"]["code"] == "invalid"
    gone = await ann.call("DELETE", "/api/v1/me/avatar")
    assert gone["avatar_url"] is None
    await sock.wait_for(lambda f: f["type"] == "user_updated" and f["user"]["avatar_url"] is None)
    assert (await stranger.fetch(url))[0] == 404
    await sock.close()


async def test_uploads_are_rate_limited_per_user(server, http, names):
    ann, bob, rid = await _room(http, server, names)
    for i in range(20):  # the burst
        await ann.upload(rid, f"{i}.txt", f"note {i}".encode())
    form = aiohttp.FormData()
    form.add_field("file", b"one more", filename="more.txt")
    async with http.post(f"{server.url}/api/v1/rooms/{rid}/uploads", data=form,
                         headers={"Authorization": f"Bearer {ann.token}"}) as resp:
        assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
        assert (await resp.json())["error"]["code"] == "rate_limited"
    await bob.upload(rid, "mine.txt", b"bob has his own bucket")


async def test_deleting_a_message_erases_its_files(server, http, names):
    """Issue 10 meets issue 9: a deleted message's uploads are gone from storage, not just hidden;
    a blob another upload still names stays."""
    ann, bob, rid = await _room(http, server, names)
    own = b"only in the deleted message " + names("x").encode()
    shared = b"also sent by bob " + names("y").encode()
    first = await ann.upload(rid, "own.txt", own)
    second = await ann.upload(rid, "shared.txt", shared)
    kept = await bob.upload(rid, "shared-too.txt", shared)
    sent = await ann.call("POST", f"/api/v1/rooms/{rid}/messages",
                          {"text": "files", "attachments": [first["id"], second["id"]]}, expect=201)
    await bob.call("POST", f"/api/v1/rooms/{rid}/messages", {"attachments": [kept["id"]]}, expect=201)
    seq = sent["seq"]
    assert (await bob.fetch(first["url"]))[0] == 200
    await ann.call("DELETE", f"/api/v1/rooms/{rid}/messages/{seq}")

    assert (await bob.fetch(first["url"]))[0] == 404
    assert (await ann.fetch(second["url"]))[0] == 404
    assert (await bob.fetch(kept["url"]))[2] == shared
    stored = [p.read_bytes() for p in media_files(server)]
    assert own not in stored and stored.count(shared) == 1
    files = await bob.call("GET", f"/api/v1/rooms/{rid}/uploads")
    assert [f["id"] for f in files["uploads"]] == [kept["id"]]
    tomb = next(m for m in (await bob.history(rid))["messages"] if m["seq"] == seq)
    assert tomb["deleted"] is True and "attachments" not in tomb and tomb["text"] == ""
