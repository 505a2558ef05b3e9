"""Room moderation in the browser (issue 11): a report reaching a moderator's queue live and
resolved there; a moderator kicking then banning someone who watches the room (their view stops
and says why); room settings; a held message approved and shown to everyone in order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import Server
from tests.browser.ui import STORED, expect_message, open_room, send
from tests.support.client import ApiError


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's server runs the spam filter (the suite's servers turn it off)."""
    server = Server(tmp_path_factory.mktemp("parley-moderation"), env={"PARLEY_SPAM": "on"}).start()
    try:
        yield server
    finally:
        server.stop()


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
    live_server.post(cat, room["id"], "nobody asked you, go away")
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

    act(bob_page, "nobody asked you", "Report")
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
    expect(item.locator(".queue-quote")).to_contain_text("nobody asked you, go away")
    expect(item.locator(".queue-note q")).to_have_text("third time <b>today</b>")
    expect(item.locator(".queue-note b")).to_have_count(0)

    # Reporting again is refused with a clear message.
    act(bob_page, "nobody asked you", "Report")
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


def member_menu(page: Page, user, action: str) -> None:
    """The moderator's member panel: the actions button beside a member, then one of them."""
    page.locator(f'.member[data-user-id="{user.id}"]').get_by_role("button", name=f"Actions for {user.display_name}").click()
    page.locator("dialog.mod-menu").get_by_role("button", name=action).click()


def test_a_kicked_then_banned_member_sees_why_and_nothing_more(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, f"kicks-{ann.username}", members=(bob,))
    lobby = live_server.create_room(ann, f"lobby-{ann.username}", members=(bob,))
    live_server.post(bob, room["id"], "hello from bob")
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])
    open_room(bob_page, room["id"])

    member_menu(ann_page, bob, "Remove from the room…")
    dialog = ann_page.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text(f"Remove Bob (@{bob.username})")
    dialog.get_by_label("Reason (optional)").fill("off topic <i>again</i>")
    dialog.get_by_role("button", name="Remove", exact=True).click()
    note = bob_page.locator(".removed-note")
    expect(note).to_contain_text("Ann")
    expect(note).to_contain_text("removed you from this room.")
    expect(note.locator("q")).to_have_text("off topic <i>again</i>")
    expect(bob_page.locator(".composer-input")).to_have_count(0)
    expect(bob_page.locator(f'.sidebar a[href="#/room/{room["id"]}"]')).to_have_count(0)
    expect(ann_page.locator("li.sys").last).to_contain_text("removed")
    # Nothing more of the room reaches Bob: Ann writes there, then in the lobby; the lobby's line
    # arriving is the barrier.
    send(ann_page, "said after the kick")
    expect_message(ann_page, "said after the kick")
    live_server.post(ann, lobby["id"], "lobby barrier")
    expect(bob_page.locator(f'.sidebar li[data-room-id="{lobby["id"]}"]')).to_have_attribute("data-unread", "1")
    expect(bob_page.locator(STORED, has_text="said after the kick")).to_have_count(0)

    # Bob joins again; Ann bans him from his message's menu, for a day.
    live_server.call("POST", f"/rooms/{room['id']}/join", user=bob)
    expect_message(bob_page, "said after the kick")  # his view starts again, live
    expect(bob_page.locator(".composer-input")).to_be_visible()
    act(ann_page, "hello from bob", "Moderate the sender…")
    ann_page.locator("dialog.mod-menu").get_by_role("button", name="Ban…").click()
    dialog = ann_page.locator("dialog[open]")
    dialog.get_by_label("For how long").select_option(label="1 day")
    dialog.get_by_label("Reason (optional)").fill("spam links")
    dialog.get_by_role("button", name="Ban", exact=True).click()
    expect(note).to_contain_text("banned you from this room until")
    expect(note.locator("q")).to_have_text("spam links")
    expect(ann_page.locator("li.sys").last).to_contain_text("banned")
    expect(ann_page.locator("li.sys").last).to_contain_text("for 1 day")
    with pytest.raises(ApiError) as refused:
        live_server.call("POST", f"/rooms/{room['id']}/join", user=bob)
    assert refused.value.status in (403, 404)

    # The room settings list the ban; Unban lifts it and Bob may join again.
    ann_page.get_by_role("button", name="Room settings").click()
    settings = ann_page.locator("dialog.room-settings")
    ban = settings.locator(".mod-ban")
    expect(ban).to_contain_text("Bob")
    expect(ban).to_contain_text("spam links")
    ban.get_by_role("button", name=f"Unban Bob (@{bob.username})").click()
    expect(settings.locator(".mod-bans")).to_contain_text("Nobody is banned.")
    ann_page.keyboard.press("Escape")
    live_server.call("POST", f"/rooms/{room['id']}/join", user=bob)


def test_mute_slow_mode_and_announcement_rooms_in_the_composer(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    cat = live_server.register("cat", "Cat")
    room = live_server.create_room(ann, f"rules-{ann.username}", members=(cat,))
    ann_page, cat_page = open_app(ann), open_app(cat)
    open_room(ann_page, room["id"])
    open_room(cat_page, room["id"])

    member_menu(ann_page, cat, "Mute…")
    dialog = ann_page.locator("dialog[open]")
    dialog.get_by_label("For how long").select_option(label="10 minutes")
    dialog.get_by_role("button", name="Mute", exact=True).click()
    gate = cat_page.locator(".composer-gate")
    expect(gate).to_contain_text("You are muted until")
    expect(cat_page.locator(".composer-input")).to_be_disabled()
    expect(ann_page.locator(f'.member[data-user-id="{cat.id}"] .role-muted')).to_have_text("muted")
    member_menu(ann_page, cat, "Unmute")
    expect(cat_page.locator(".composer-input")).to_be_enabled()
    expect(gate).to_be_hidden()

    # Slow mode, set in the room settings: after a message, a countdown; moderators are not slowed.
    ann_page.get_by_role("button", name="Room settings").click()
    settings = ann_page.locator("dialog.room-settings")
    settings.get_by_label("Slow mode").select_option(label="30 seconds")
    settings.get_by_label("Keep messages for (days)").fill("30")
    expect(settings.get_by_role("radio", name="Public room")).to_be_checked()
    settings.get_by_role("radio", name="Private room").check()
    settings.get_by_role("button", name="Save").click()
    expect(settings).to_have_count(0)
    stored = live_server.call("GET", f"/rooms/{room['id']}", user=ann)
    assert (stored["slow_mode_s"], stored["retention_days"], stored["post_policy"]) == (30, 30, "everyone")
    assert stored["visibility"] == "private"
    ann_page.get_by_role("button", name="Room settings").click()  # shown as it now is
    expect(settings.get_by_role("radio", name="Private room")).to_be_checked()
    settings.get_by_role("button", name="Cancel").click()
    expect(settings).to_have_count(0)
    expect(gate).to_have_text("Slow mode: one message every 30 s.")
    send(cat_page, "lunch at noon?")
    expect_message(ann_page, "lunch at noon?")
    expect(gate).to_contain_text("Slow mode: you can send again in")
    expect(cat_page.locator(".send-btn")).to_be_disabled()
    cat_page.locator(".composer-input").fill("too soon")
    cat_page.locator(".composer-input").press("Enter")
    expect(cat_page.locator(".composer-input")).to_have_value("too soon")  # kept, not sent
    send(ann_page, "moderators are not slowed")
    send(ann_page, "not at all")
    expect_message(cat_page, "not at all")
    expect(ann_page.locator(".composer-gate")).to_be_hidden()

    # Announcements: only moderators post.
    live_server.call("PATCH", f"/rooms/{room['id']}", {"post_policy": "moderators", "slow_mode_s": 0}, ann)
    expect(gate).to_have_text("Only moderators can post here.")
    expect(cat_page.locator(".composer-input")).to_be_disabled()
    expect(ann_page.locator(".composer-input")).to_be_enabled()
    live_server.call("PATCH", f"/rooms/{room['id']}", {"post_policy": "everyone"}, ann)
    expect(cat_page.locator(".composer-input")).to_be_enabled()
    send(cat_page, "back to normal")
    expect_message(ann_page, "back to normal")


LINKS = " ".join(f"https://{host}.example/{i}" for i, host in enumerate("abcde"))


def test_a_held_message_is_approved_into_place_for_everyone_or_rejected(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")  # moderates (and, first on the server, is its admin)
    bob = live_server.register("bob", "Bob")  # a new account posting links: held
    cat = live_server.register("cat", "Cat")
    room = live_server.create_room(ann, f"held-{ann.username}", members=(bob, cat))
    ann_page, bob_page, cat_page = open_app(ann), open_app(bob), open_app(cat)
    for page in (ann_page, bob_page, cat_page):
        open_room(page, room["id"])
    queue = ann_page.locator(".room-header .queue-btn")

    send(bob_page, f"Notes for Friday {LINKS}")
    held_row = bob_page.locator("ol.pending-events li.msg.held")
    expect(held_row.locator(".msg-status")).to_have_text("Held for review")
    expect(queue.locator(".badge")).to_have_text("1")
    send(cat_page, "meanwhile, a normal message")
    expect_message(bob_page, "meanwhile, a normal message")
    expect(cat_page.locator(STORED, has_text="Notes for Friday")).to_have_count(0)
    expect(held_row).to_have_count(1)
    # A reload keeps it: the client asks GET /me/held and shows it as held again.
    bob_page.reload()
    open_room(bob_page, room["id"])
    expect_message(bob_page, "meanwhile, a normal message")
    expect(held_row.locator(".msg-status")).to_have_text("Held for review")
    expect(held_row).to_contain_text("Notes for Friday")
    expect(held_row).to_have_count(1)

    queue.click()
    panel = ann_page.locator("dialog.mod-panel")
    panel.get_by_role("tab", name="Held for review").click()
    item = panel.locator(".mod-queue[data-kind=held] .queue-item")
    expect(item).to_have_count(1)
    expect(item.locator(".queue-text")).to_have_text(f"Notes for Friday {LINKS}")
    expect(item).to_contain_text("many links")
    item.get_by_role("button", name="Approve").click()
    expect(item).to_have_count(0)
    expect(queue.locator(".badge")).to_have_text("")

    # Delivered to everyone after what was posted meanwhile, and Bob's held copy became the real one.
    for page in (cat_page, bob_page, ann_page):
        expect_message(page, "Notes for Friday")
        bodies = page.locator(f"{STORED} .msg-body").all_inner_texts()
        assert bodies.index("meanwhile, a normal message") < len(bodies) - 1, bodies
        assert bodies[-1].startswith("Notes for Friday"), bodies
    expect(bob_page.locator("ol.pending-events li.msg")).to_have_count(0)
    history = live_server.call("GET", f"/rooms/{room['id']}/messages", user=cat)["messages"]
    texts = [m["text"] for m in history if m["type"] == "message"]
    assert texts[-2:] == ["meanwhile, a normal message", f"Notes for Friday {LINKS}"]

    # Rejected: Bob's copy says it was not delivered; nobody else ever saw it.
    send(bob_page, f"Second batch {LINKS}")
    expect(panel.locator(".mod-queue[data-kind=held] .queue-item")).to_have_count(1)
    panel.locator(".mod-queue[data-kind=held] .queue-item").get_by_role("button", name="Reject").click()
    rejected = bob_page.locator("ol.pending-events li.msg.rejected")
    expect(rejected.locator(".msg-status")).to_contain_text("Not delivered: a moderator rejected it.")
    rejected.get_by_role("button", name="Discard").click()
    expect(rejected).to_have_count(0)
    send(cat_page, "after the rejection")
    expect_message(ann_page, "after the rejection")
    expect(cat_page.locator(STORED, has_text="Second batch")).to_have_count(0)

    # Rejected while Bob was away: back online, his held copy says so rather than vanishing.
    send(bob_page, f"Third batch {LINKS}")
    third = bob_page.locator("ol.pending-events li.msg", has_text="Third batch")
    expect(third.locator(".msg-status")).to_have_text("Held for review")
    expect(panel.locator(".mod-queue[data-kind=held] .queue-item")).to_have_count(1)
    bob_page.context.set_offline(True)
    expect(bob_page.locator(".conn")).to_have_attribute("data-state", "offline")
    panel.locator(".mod-queue[data-kind=held] .queue-item").get_by_role("button", name="Reject").click()
    expect(panel.locator(".mod-queue[data-kind=held] .queue-item")).to_have_count(0)
    bob_page.context.set_offline(False)
    expect(bob_page.locator(".conn")).to_have_attribute("data-state", "connected")
    expect(third.locator(".msg-status")).to_contain_text("Not delivered: a moderator rejected it.")
    assert bob_page.locator("ol.pending-events li.msg.held").count() == 0
