"""Room moderation in the browser (issue 11): a report reaching a moderator's queue live and
resolved there; a moderator kicking then banning someone who watches the room (their view stops
and says why); room settings; a held message approved and shown to everyone in order."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.harness import Server
from tests.browser.ui import STORED, expect_message, open_room, send


def row(page: Page, text: str):
    return page.locator(STORED, has=page.locator(".msg-body", has_text=text)).last


def act(page: Page, text: str, action: str) -> None:
    """Hovers the message and clicks one button of its toolbar."""
    message = row(page, text)
    message.hover()
    message.locator(".msg-tools").get_by_role("button", name=action, exact=True).click()


def test_a_report_reaches_the_moderators_queue_live_and_is_resolved(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")  # owner of the room
    bob = live_server.register("bob", "Bob")  # reports
    cat = live_server.register("cat", "Cat")  # is reported
    room = live_server.create_room(ann, f"reports-{ann.username}", members=(bob, cat))
    live_server.post(cat, room["id"], "buy cheap watches at example.com")
    live_server.post(bob, room["id"], "my own words")
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])
    open_room(bob_page, room["id"])
    queue = ann_page.locator(".room-header .queue-btn")
    expect(queue).to_be_visible()
    expect(queue.locator(".badge")).to_have_text("")
    # A member has no moderation button, and cannot report their own message.
    expect(bob_page.locator(".room-header .queue-btn")).to_be_hidden()
    mine = row(bob_page, "my own words")
    mine.hover()
    expect(mine.locator(".msg-tools")).to_be_visible()
    expect(mine.get_by_role("button", name="Report", exact=True)).to_have_count(0)

    act(bob_page, "cheap watches", "Report")
    dialog = bob_page.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("Report this message")
    dialog.get_by_label("Abuse").check()
    dialog.get_by_label("Note for the moderators (optional)").fill("third time <b>today</b>")
    dialog.get_by_role("button", name="Send report").click()
    expect(bob_page.locator(".toast", has_text="Thanks — the moderators will look at it.")).to_be_visible()
    expect(dialog).to_have_count(0)

    # Live: the badge counts it, the panel lists it with the note as text.
    expect(queue.locator(".badge")).to_have_text("1")
    queue.click()
    panel = ann_page.locator("dialog.mod-panel")
    expect(panel.get_by_role("tab", name="Reports 1")).to_have_attribute("aria-selected", "true")
    item = panel.locator(".queue-item")
    expect(item).to_have_count(1)
    expect(item.locator(".queue-reason")).to_have_text("Abuse")
    expect(item.locator(".queue-quote")).to_contain_text("buy cheap watches")
    expect(item.locator(".queue-note q")).to_have_text("third time <b>today</b>")
    expect(item.locator(".queue-note b")).to_have_count(0)

    # Reporting again is refused with a clear message.
    act(bob_page, "cheap watches", "Report")
    bob_page.locator("dialog[open]").get_by_role("button", name="Send report").click()
    expect(bob_page.locator("dialog[open] .form-error")).to_have_text("You have already reported this message.")
    bob_page.keyboard.press("Escape")

    # Resolve it by deleting the message: the queue empties, the message is a tombstone for Bob.
    item.get_by_label("Action").select_option("delete")
    item.get_by_role("button", name="Resolve").click()
    expect(panel.locator(".queue-item")).to_have_count(0)
    expect(panel.locator(".mod-queue[data-kind=reports] .queue-empty")).to_have_text("No open reports.")
    expect(queue.locator(".badge")).to_have_text("")
    expect(row(bob_page, "Message deleted")).to_be_visible()
    reports = live_server.call("GET", "/me/reports", user=bob)["reports"]
    assert [(r["state"], r["action"]) for r in reports] == [("resolved", "delete")]
    # Keyboard: the tabs switch with the arrow keys, Escape closes and focus returns.
    panel.get_by_role("tab", name="Reports").focus()
    ann_page.keyboard.press("ArrowRight")
    expect(panel.get_by_role("tab", name="Held for review")).to_be_focused()
    expect(panel.locator(".mod-queue[data-kind=held]")).to_be_visible()
    ann_page.keyboard.press("Escape")
    expect(queue).to_be_focused()
    send(ann_page, "all clean")
    expect_message(bob_page, "all clean")
