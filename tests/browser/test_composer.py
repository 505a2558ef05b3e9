"""Writing and reading in a room: the composer near and past the length limit, mentions styled only
as the server resolved them, and a room re-opened at its very bottom."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import Server
from tests.browser.ui import expect_message, open_room, send

LIMIT = 4000  # the server's default max_text


def test_over_long_text_stays_in_the_composer_with_a_counter_and_the_limit(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    room = live_server.create_room(ann, "essays")
    page = open_app(ann)
    open_room(page, room["id"])
    box = page.locator(".composer-input")
    counter = page.locator(".composer-count")

    box.fill("x" * 100)
    expect(counter).to_be_hidden()
    box.fill("x" * (LIMIT - 250))
    expect(counter).to_be_visible()
    expect(counter).to_have_text("250")

    too_long = "y" * (LIMIT + 1)
    box.fill(too_long)
    expect(counter).to_have_text("-1")
    box.press("Enter")
    expect(page.locator(".composer-error")).to_have_text("Messages have at most 4,000 characters.")
    expect(box).to_have_value(too_long)
    expect(page.locator(".pending-events li")).to_have_count(0)
    expect(page.get_by_text("Some of that is not valid")).to_have_count(0)

    box.press("Backspace")
    expect(page.locator(".composer-error")).to_be_hidden()
    box.press("Enter")
    expect(box).to_have_value("")
    expect_message(page, "y" * 50)


def test_only_mentions_the_server_resolved_are_styled(open_app, live_server: Server) -> None:
    """@nobody is plain text. Styling @ann waits for the server's `mentions` on message events."""
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "mentions", members=(bob,))
    page = open_app(ann)
    open_room(page, room["id"])
    live_server.post(bob, room["id"], f"hey @nobody and @{ann.username}")
    expect_message(page, "hey @nobody")
    body = page.locator(".msg-body", has_text="hey @nobody")
    expect(body.locator(".mention", has_text="@nobody")).to_have_count(0)
    expect(body.locator(".mention-me")).to_have_text(f"@{ann.username}")


def test_reopening_a_room_lands_exactly_at_the_bottom(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    busy = live_server.create_room(ann, "busy")
    quiet = live_server.create_room(ann, "quiet")
    live_server.post_many(ann, busy["id"], [f"line {i} " + "words " * (i % 7) * 6 for i in range(80)])
    page = open_app(ann)
    open_room(page, busy["id"])
    expect_message(page, "line 79")
    open_room(page, quiet["id"])
    send(page, "over here")
    expect_message(page, "over here")

    open_room(page, busy["id"])
    expect_message(page, "line 79")
    gap = "el => el.scrollHeight - el.scrollTop - el.clientHeight"
    timeline = page.locator(".timeline")
    page.wait_for_function("() => { const el = document.querySelector('.timeline');"
                           " return el.scrollHeight - el.scrollTop - el.clientHeight <= 1; }")
    expect(page.get_by_role("button", name="Jump to latest")).to_be_hidden()
    # Not a passing moment: the view stays at the bottom after the layout settles.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert timeline.evaluate(gap) <= 1
    expect(page.get_by_role("button", name="Jump to latest")).to_be_hidden()
