"""A user in hundreds of rooms: the SSE id and `/ws?resume=` must still fit in one header line.

The rooms are seeded straight into the server's SQLite file (copies of one room made through the
API), with ids as a long-lived deployment has them, so that the first text form of the cursors
(`room.seq-room.seq...`) would have been about 13 KB: over aiohttp's 8,190-byte line limit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp

from parley.core.cursors import decode_cursors
from tests.conftest import new_user
from tests.support.client import Socket
from tests.support.sse import SseStream

ROOMS = 900
FIRST_ID = 1_000_000_000


def _seed_copies(database_url: str, template: int, user_id: int) -> list[int]:
    """Copy room `template` (its row, members and events) into ROOMS new rooms; returns their ids."""
    path = Path(database_url.removeprefix("sqlite:///"))
    db = sqlite3.connect(path, timeout=30)
    try:
        def rows(table: str, where: str) -> tuple[list[str], list[tuple[object, ...]]]:
            cursor = db.execute(f"SELECT * FROM {table} WHERE {where} = ?", (template,))  # noqa: S608
            return [d[0] for d in cursor.description], cursor.fetchall()

        ids = [FIRST_ID + 7 * k for k in range(ROOMS)]
        with db:
            for table, key in (("rooms", "id"), ("members", "room_id"), ("events", "room_id")):
                columns, found = rows(table, key)
                keep = [c for c in columns if not (table == "events" and c == "id")]
                at = keep.index(key)
                insert = f"INSERT INTO {table} ({', '.join(keep)}) VALUES ({', '.join('?' * len(keep))})"  # noqa: S608
                for room_id in ids:
                    for row in found:
                        values = [v for c, v in zip(columns, row, strict=True) if c in keep]
                        values[at] = room_id
                        if table == "rooms":  # public names are unique, ignoring case
                            values[keep.index("name")] = f"{values[keep.index('name')]}-{room_id}"
                        db.execute(insert, values)
        assert db.execute("SELECT count(*) FROM members WHERE user_id = ?", (user_id,)).fetchone()[0] == ROOMS + 1
        return ids
    finally:
        db.close()


async def test_cursor_tokens_of_900_rooms_fit_and_resume(server, http, names):
    ann = await new_user(http, server.url, names())
    template = await ann.create_room("template")
    rooms = _seed_copies(server.database_url, template["id"], ann.user["id"])
    target = rooms[-1]
    old_text_form = "-".join(f"{r}.{template['last_seq']}" for r in [template["id"], *rooms])
    assert len(old_text_form) > 8_190  # what this test is about

    stream = await SseStream.open(http, server.url, ann.token)
    await stream.wait_for(lambda f: f["type"] == "hello")
    await ann.send(target, "seen live")
    await stream.wait_for(lambda f: f.get("text") == "seen live")
    last_id = stream.last_id
    assert last_id is not None and len(last_id) < 8_000, len(last_id or "")
    assert decode_cursors(last_id)[target] == template["last_seq"] + 1
    await stream.close()

    for n in range(3):
        await ann.send(target, f"missed {n}")
    again = await SseStream.open(http, server.url, ann.token, last_event_id=last_id)
    await again.wait_for(lambda f: f["type"] == "resumed", timeout=30)
    assert [f["text"] for f in again.frames if f.get("room") == target and f["type"] == "message"] == [
        f"missed {n}" for n in range(3)]
    await again.close()

    # The same token, and the old text form, on /ws?resume=.
    for token in (last_id, old_text_form):
        sock = Socket(await http.ws_connect(server.url.replace("http", "ws", 1) + f"/ws?token={ann.token}",
                                            params={"resume": token}))
        await sock.wait_for(lambda f: f["type"] == "resumed", timeout=30)
        texts = [f["text"] for f in sock.frames if f.get("room") == target and f["type"] == "message"]
        assert texts[-3:] == [f"missed {n}" for n in range(3)]
        await sock.close()
    assert server.tracebacks() == []


async def test_malformed_cursor_tokens_are_refused_in_json(server, http, names):
    ann = await new_user(http, server.url, names())
    for bad in ("v1.!!!", "v1.gA", "12.x", "x" * 70_000):
        async with http.get(server.url + "/api/v1/events", headers={
                "Authorization": f"Bearer {ann.token}", "Last-Event-ID": bad}) as resp:
            assert resp.status == 400, (bad[:20], resp.status)
            assert (await resp.json())["error"]["code"] in ("bad_request", "headers_too_large")
        try:
            async with http.get(server.url + "/ws", params={"token": ann.token, "resume": bad}) as resp:
                assert resp.status == 400, (bad[:20], resp.status)
                assert resp.content_type == "application/json"
        except aiohttp.ClientResponseError as exc:
            raise AssertionError(f"{bad[:20]}: {exc}") from exc
    assert server.tracebacks() == []
