"""Retention (issue 11) live in an open client: the room's sweep erases its old messages and every
open view turns them into tombstones at once, with one line saying why, without a reload.

This module's server sweeps every second (PARLEY_RETENTION_SWEEP_S=1). Time is moved the way the
contract tests move it, by the data: the room's messages are dated three days back in the SQLite
file, then the room's retention is set to one day; the next sweep erases them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.harness import Server
from tests.browser.ui import STORED, open_room

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("parley-retention"), {"PARLEY_RETENTION_SWEEP_S": "1"}).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_retention_purge_shows_live_in_an_open_client(open_app, live_server: Server) -> None:
    ann, bob = live_server.register("ann", "Ann"), live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "fading", members=(bob,))
    rid = room["id"]
    for text in ("old news one", "old news two"):
        live_server.post(ann, rid, text)
    path = live_server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path, timeout=30) as db:  # three days ago, as far as the sweep can tell
        moved = db.execute("UPDATE events SET ts = ts - ? WHERE room_id = ? AND type = 'message'",
                           (3 * DAY_MS, rid)).rowcount
    assert moved == 2
    page = open_app(bob)
    open_room(page, rid)
    for text in ("old news one", "old news two"):
        expect(page.locator(f"{STORED} .msg-body", has_text=text)).to_be_visible()

    live_server.call("PATCH", f"/rooms/{rid}", {"retention_days": 1}, ann)  # the next sweep erases them
    expect(page.locator("li.sys p", has_text="Older messages were erased by the room's retention setting")
           ).to_have_count(1)
    expect(page.locator(f"{STORED} .msg-body", has_text="old news")).to_have_count(0)
    expect(page.locator(f"{STORED} .tombstone")).to_have_count(2)
    live_server.post(ann, rid, "a fresh message")  # newer than the retention: kept, and shown live
    expect(page.locator(f"{STORED} .msg-body", has_text="a fresh message")).to_be_visible()
    history = live_server.call("GET", f"/rooms/{rid}/messages", user=bob)["messages"]
    assert [m.get("deleted", False) for m in history if m["type"] == "message"] == [True, True, False]
