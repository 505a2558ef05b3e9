"""Losing the network: the client shows it, resumes from its cursors, retries what was not acked,
and ends up with every message exactly once, in order."""

from __future__ import annotations

import json
import re

from playwright.sync_api import WebSocketRoute, expect

from tests.browser.harness import Server
from tests.browser.ui import STORED, expect_message, open_room, send, stored_bodies


def seqs_on_screen(page) -> list[int]:
    return page.locator(STORED).evaluate_all("rows => rows.map((row) => Number(row.dataset.seq))")


def test_messages_missed_while_offline_arrive_once_and_in_order(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "flaky", members=(bob,))
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])
    open_room(bob_page, room["id"])
    send(bob_page, "before the cut")
    expect_message(ann_page, "before the cut")

    ann_page.context.set_offline(True)
    expect(ann_page.locator(".conn")).to_have_attribute("data-state", "offline")
    expect(ann_page.locator(".conn")).to_have_text("Offline")
    for i in range(20):
        send(bob_page, f"missed {i}")
    expect_message(bob_page, "missed 19")
    expect(bob_page.locator(".pending-events li")).to_have_count(0)
    expect(stored_bodies(ann_page)).to_have_text(["before the cut"])

    ann_page.context.set_offline(False)
    expect(ann_page.locator(".conn")).to_have_attribute("data-state", "connected")
    expect(stored_bodies(ann_page)).to_have_text(["before the cut", *[f"missed {i}" for i in range(20)]])
    seqs = seqs_on_screen(ann_page)
    assert seqs == sorted(set(seqs)), seqs
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_message_written_offline_shows_pending_and_is_sent_once_back_online(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "patience", members=(bob,))
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])
    open_room(bob_page, room["id"])

    ann_page.context.set_offline(True)
    expect(ann_page.locator(".conn")).to_have_attribute("data-state", "offline")
    send(ann_page, "written offline")
    pending = ann_page.locator(".pending-events li.pending")
    expect(pending.locator(".msg-body")).to_have_text("written offline")
    expect(pending.locator(".msg-status")).to_have_text("Sending…")

    ann_page.context.set_offline(False)
    expect_message(bob_page, "written offline")
    expect_message(ann_page, "written offline")
    expect(ann_page.locator(".pending-events li")).to_have_count(0)
    history = live_server.call("GET", f"/rooms/{room['id']}/messages", user=ann)["messages"]
    assert [e["text"] for e in history if e["type"] == "message"] == ["written offline"]


def test_send_whose_ack_was_lost_is_retried_with_the_same_id(open_app, live_server: Server) -> None:
    """The first connection drops right after the server stored the message but before the ack
    reached the page: the client resends with the same client_msg_id and nothing is duplicated."""
    ann = live_server.register("ann", "Ann")
    room = live_server.create_room(ann, "retry")
    # The client reconnects with `?resume=` in the URL: match /ws with any query.
    ws_url = re.compile(re.escape(live_server.url.replace("http", "ws") + "/ws") + r"(\?.*)?$")
    sent_ids: list[str] = []
    connections = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        connections.append(ws)
        first = len(connections) == 1

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "send":
                sent_ids.append(frame["client_msg_id"])
            server.send(message)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if first and frame["type"] in ("ack", "message"):
                ws.close()
                return
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    page = open_app()
    page.route_web_socket(ws_url, route)
    page.context.request.post("/api/v1/auth/login", data={"username": ann.username, "password": "parley-browser-test-password"},
                              headers={"X-Requested-With": "parley"})
    page.goto("/")
    open_room(page, room["id"])
    send(page, "exactly once")
    expect_message(page, "exactly once")
    expect(page.locator(".pending-events li")).to_have_count(0)
    assert len(connections) >= 2
    assert f"resume={room['id']}." in connections[1].url, "a reconnect resumes in the URL, before anything live"
    assert len(sent_ids) >= 2 and len(set(sent_ids)) == 1, sent_ids
    history = live_server.call("GET", f"/rooms/{room['id']}/messages", user=ann)["messages"]
    assert [e["text"] for e in history if e["type"] == "message"] == ["exactly once"]
    expect(stored_bodies(page)).to_have_count(1)
