"""Markdown blocks (quotes, lists, headings as bold lines) and the "new messages" divider at my
read marker when I open a room with unread messages."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import Server
from tests.browser.ui import STORED, expect_message, expect_unread, open_room


def test_quotes_lists_and_headings(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    room = live_server.create_room(ann, "markdown")
    text = ("# Plan for **today**\n> quoted *words*\n> second line\n> > nested\nthen text\n"
            "- apples\n- pears with `code`\n* mixed marker\n\n3. third\n4. fourth\n"
            "\\- not a list\n1\\. not numbered either\n-no space, no list\n>")
    live_server.post(ann, room["id"], text)
    page = open_app(ann)
    open_room(page, room["id"])
    body = page.locator(f"{STORED} .msg-body").last
    expect(body.locator("p.md-heading > strong")).to_have_text("Plan for today")
    expect(body.locator("p.md-heading strong strong")).to_have_text("today")
    quote = body.locator(":scope > blockquote")
    expect(quote.locator(":scope > p").first).to_have_text("quoted words\nsecond line")
    expect(quote.locator("em")).to_have_text("words")
    expect(quote.locator("blockquote")).to_have_text("nested")
    expect(body.locator("ul > li")).to_have_text(["apples", "pears with code", "mixed marker"])
    expect(body.locator("ul code")).to_have_text("code")
    expect(body.locator("ol")).to_have_attribute("start", "3")
    expect(body.locator("ol > li")).to_have_text(["third", "fourth"])
    expect(body).to_contain_text("- not a list\n1. not numbered either\n-no space, no list")
    assert body.locator("h1, h2, h3, h4, h5, h6").count() == 0


def test_new_messages_divider_at_my_read_marker(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "divider", members=(bob,))
    other = live_server.create_room(ann, "elsewhere")
    live_server.post(bob, room["id"], "already read")
    page = open_app(ann)
    open_room(page, room["id"])
    expect_message(page, "already read")
    expect(page.locator(STORED, has=page.locator(".new-divider"))).to_contain_text("already read")

    open_room(page, other["id"])
    live_server.post_many(bob, room["id"], [f"unread {i}" for i in range(60)])
    expect_unread(page, room["id"], 60)
    open_room(page, room["id"])
    divider = page.locator(".new-divider")
    expect(divider).to_have_text("New messages")
    row = page.locator(STORED, has=divider)
    expect(row.locator(".msg-body")).to_have_text("unread 0")
    # Its run starts anew under the divider (avatar and name shown), and the view starts there.
    expect(row).not_to_have_class("grouped")
    expect(row.locator(".avatar")).to_be_visible()
    expect(divider).to_be_in_viewport()
    expect(page.get_by_role("button", name="Jump to latest")).to_be_visible()

    # Read now: opening the room again shows no divider.
    open_room(page, other["id"])
    open_room(page, room["id"])
    expect_message(page, "unread 59")
    expect(page.locator(".new-divider")).to_have_count(0)
