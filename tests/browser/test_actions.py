"""Message actions between two people live (issue 10): edit, delete, react, reply and jump, threads,
pins; what happened while one was offline shows after the resume; hostile edits stay text."""

from __future__ import annotations

import time
import urllib.parse

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.browser.harness import Server
from tests.browser.test_xss import MESSAGES as XSS_PAYLOADS
from tests.browser.test_xss import assert_inert
from tests.browser.ui import STORED, expect_message, open_room, send
from tests.support.client import ApiError


def row(page: Page, text: str):
    return page.locator(f"{STORED}", has=page.locator(".msg-body", has_text=text)).last


def act(page: Page, text: str, action: str) -> None:
    """Hovers the message and clicks one button of its toolbar."""
    message = row(page, text)
    message.hover()
    message.locator(".msg-tools").get_by_role("button", name=action, exact=True).click()


def pair(open_app, live_server: Server, *, bob_role: str | None = None):
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, f"actions-{ann.username}", members=(bob,))
    if bob_role:
        live_server.call("PATCH", f"/rooms/{room['id']}/members/{bob.id}", {"role": bob_role}, ann)
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])
    open_room(bob_page, room["id"])
    return ann, bob, room, ann_page, bob_page


def test_edit_in_place_and_up_arrow_with_versions(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    send(ann_page, "first draft")
    expect_message(bob_page, "first draft")

    # Up-arrow in the empty composer edits my last message; Escape cancels.
    ann_page.locator(".composer-input").press("ArrowUp")
    editor = ann_page.locator(".edit-input")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("first draft")
    editor.fill("thrown away")
    editor.press("Escape")
    expect(editor).to_have_count(0)
    expect_message(ann_page, "first draft")

    act(ann_page, "first draft", "Edit")
    ann_page.locator(".edit-input").fill("second **draft**")
    ann_page.locator(".edit-input").press("Enter")
    expect(row(bob_page, "second draft").locator(".msg-body strong")).to_have_text("draft")
    expect(row(bob_page, "second draft").locator(".edited-mark")).to_have_text("(edited)")
    expect(row(ann_page, "second draft").locator(".edited-mark")).to_be_visible()
    expect(bob_page.locator(f"{STORED} .msg-body", has_text="first draft")).to_have_count(0)

    row(bob_page, "second draft").locator(".edited-mark").click()
    versions = bob_page.locator("dialog .version-text")
    expect(versions).to_have_text(["second **draft**", "first draft"])
    bob_page.keyboard.press("Escape")

    # Bob may not edit Ann's message: no Edit button on it.
    message = row(bob_page, "second draft")
    message.hover()
    expect(message.locator(".msg-tools")).to_be_visible()
    expect(message.get_by_role("button", name="Edit", exact=True)).to_have_count(0)
    history = live_server.call("GET", f"/rooms/{room['id']}/messages", user=bob)["messages"]
    assert [m["text"] for m in history if m["type"] == "message"] == ["second **draft**"]


def test_delete_own_and_as_moderator_leaves_tombstones(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server, bob_role="moderator")
    send(ann_page, "a mistake")
    send(ann_page, "rude words")
    expect_message(bob_page, "rude words")

    act(ann_page, "a mistake", "Delete")
    dialog = ann_page.get_by_role("dialog")
    expect(dialog).to_contain_text("a mistake")
    dialog.get_by_role("button", name="Delete").click()
    expect(bob_page.locator(f"{STORED} .tombstone")).to_have_text(["Message deleted"])
    expect(ann_page.locator(f"{STORED} .tombstone")).to_have_text(["Message deleted"])

    # A moderator deletes anyone's message.
    act(bob_page, "rude words", "Delete")
    bob_page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(ann_page.locator(f"{STORED} .tombstone")).to_have_count(2)
    expect(ann_page.locator(f"{STORED} .msg-body", has_text="rude words")).to_have_count(0)
    history = live_server.call("GET", f"/rooms/{room['id']}/messages", user=ann)["messages"]
    assert [(m["text"], m.get("deleted")) for m in history if m["type"] == "message"] == [("", True), ("", True)]


def test_member_cannot_delete_or_pin_others(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    send(ann_page, "owner says hi")
    message = row(bob_page, "owner says hi")
    message.hover()
    tools = message.locator(".msg-tools")
    expect(tools.get_by_role("button", name="Reply", exact=True)).to_be_visible()
    for name in ("Delete", "Pin", "Edit"):
        expect(tools.get_by_role("button", name=name, exact=True)).to_have_count(0)


def test_reactions_live_toggle_and_non_emoji_refused(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    send(ann_page, "ship it?")
    act(bob_page, "ship it?", "React with 👍")
    chip = row(ann_page, "ship it?").locator(".reaction")
    expect(chip).to_have_text("👍1")
    expect(chip).to_have_attribute("aria-pressed", "false")
    expect(chip).to_have_attribute("title", f"Bob (@{bob.username}) reacted with 👍")
    expect(row(bob_page, "ship it?").locator(".reaction")).to_have_attribute("aria-pressed", "true")

    chip.click()
    expect(row(bob_page, "ship it?").locator(".reaction")).to_have_text("👍2")
    expect(chip).to_have_attribute("aria-pressed", "true")
    row(bob_page, "ship it?").locator(".reaction").click()
    expect(chip).to_have_text("👍1")
    chip.click()
    expect(row(bob_page, "ship it?").locator(".reaction")).to_have_count(0)
    expect(chip).to_have_count(0)

    # Anything but one emoji is refused, by the server, and nothing shows.
    seq = int(row(ann_page, "ship it?").get_attribute("data-seq"))
    for bad in ("abc", "👍👍", "<img src=x>"):
        with pytest.raises(ApiError) as refused:
            live_server.call("PUT", f"/rooms/{room['id']}/messages/{seq}/reactions/{urllib.parse.quote(bad)}", user=bob)
        assert refused.value.status == 422
    live_server.call("PUT", f"/rooms/{room['id']}/messages/{seq}/reactions/{urllib.parse.quote('🎉')}", user=bob)
    expect(row(ann_page, "ship it?").locator(".reaction")).to_have_text(["🎉1"])


def test_reply_quotes_the_original_and_jumps_to_it(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    send(ann_page, "the original question")
    expect_message(bob_page, "the original question")
    live_server.post_many(ann, room["id"], [f"filler {i}" for i in range(40)])
    expect_message(bob_page, "filler 39")

    ann_page.reload()
    open_room(ann_page, room["id"])
    bob_page.locator(f"{STORED}", has_text="the original question").scroll_into_view_if_needed()
    act(bob_page, "the original question", "Reply")
    bar = bob_page.locator(".room-main .reply-bar")
    expect(bar).to_contain_text("the original question")
    bob_page.locator(".composer-input").press("Escape")
    expect(bar).to_be_hidden()
    act(bob_page, "the original question", "Reply")
    expect(bob_page.locator(".composer-input")).to_be_focused()
    send(bob_page, "the answer")
    expect(bar).to_be_hidden()

    quote = row(ann_page, "the answer").locator(".reply-quote")
    expect(quote).to_contain_text("the original question")
    original = ann_page.locator(f"{STORED}", has=ann_page.locator(".msg-body", has_text="the original question"))
    expect(original).not_to_be_in_viewport()
    quote.click()
    expect(original).to_be_in_viewport()
    expect(original).to_be_focused()


def test_thread_panel_replies_and_notifies_the_participants(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    other = live_server.create_room(ann, f"elsewhere-{ann.username}", members=(bob,))
    send(ann_page, "thread root here")
    expect_message(bob_page, "thread root here")

    act(bob_page, "thread root here", "Reply in thread")
    panel = bob_page.locator(".thread-panel")
    expect(panel.locator("li.msg .msg-body").first).to_have_text("thread root here")
    panel.locator(".composer-input").fill("first in thread")
    panel.locator(".composer-input").press("Enter")
    expect(panel.locator("li.msg .msg-body").last).to_have_text("first in thread")
    # "Reply" on a message in the panel quotes it in the panel's composer, not the room's.
    reply_in_panel = panel.locator("li.msg", has_text="first in thread").last
    reply_in_panel.hover()
    reply_in_panel.locator(".msg-tools").get_by_role("button", name="Reply", exact=True).click()
    expect(panel.locator(".reply-bar")).to_contain_text("first in thread")
    expect(bob_page.locator(".room-main .reply-bar")).to_be_hidden()
    expect(panel.locator(".composer-input")).to_be_focused()
    panel.locator(".composer-input").fill("answering the first")
    panel.locator(".composer-input").press("Enter")
    expect(panel.locator("li.msg", has_text="answering the first").locator(".reply-quote")).to_contain_text("first in thread")
    expect(panel.locator(".reply-bar")).to_be_hidden()

    summary = row(ann_page, "thread root here").locator(".thread-summary")
    expect(summary).to_contain_text("2 replies")
    expect(ann_page.locator(f"{STORED} .msg-body", has_text="first in thread")).to_have_count(0)
    summary.click()
    ann_panel = ann_page.locator(".thread-panel")
    expect(ann_panel.locator("li.msg .msg-body")).to_have_text(["thread root here", "first in thread", "answering the first"])

    # Ann wrote the root: a reply while she is in another room marks that room as mentioning her.
    ann_page.locator(".thread-close").click()
    open_room(ann_page, other["id"])
    panel.locator(".composer-input").fill("second in thread")
    panel.locator(".composer-input").press("Enter")
    item = ann_page.locator(f'.sidebar li[data-room-id="{room["id"]}"]')
    expect(item).to_have_attribute("data-mention", "true")
    open_room(ann_page, room["id"])
    expect(row(ann_page, "thread root here").locator(".thread-summary")).to_contain_text("3 replies")


def test_a_mention_arriving_just_after_leaving_a_room_stays_unread(open_app, live_server: Server) -> None:
    """Reading a room marks it read a moment later (400 ms): a message that arrives after I left it, but
    before that moment, is not covered by the marker and keeps its mention. The page's clock is paused
    so that the moment comes only when the test says."""
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    other = live_server.create_room(ann, f"aside-{ann.username}", members=(bob,))
    ann_page.clock.install()
    ann_page.clock.pause_at(time.time() * 1000 + 60_000)
    seen = live_server.post(bob, room["id"], "read while here")["seq"]
    expect_message(ann_page, "read while here")  # the marker's timer is set, and waits
    open_room(ann_page, other["id"])
    mention = live_server.post(bob, room["id"], f"@{ann.username} look at this")["seq"]
    item = ann_page.locator(f'.sidebar li[data-room-id="{room["id"]}"]')
    expect(item).to_have_attribute("data-mention", "true")
    ann_page.clock.run_for(2000)  # the timer fires: the marker moves to what was on screen, no further
    deadline = time.monotonic() + 10
    while (read := live_server.call("GET", f"/rooms/{room['id']}", user=ann)["read_seq"]) < seen:
        assert time.monotonic() < deadline, f"the read marker stayed at {read}"
        time.sleep(0.05)
    assert seen <= read < mention, (seen, read, mention)
    expect(item).to_have_attribute("data-mention", "true")


def test_pins_count_list_and_jump(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    send(bob_page, "worth keeping")
    live_server.post_many(bob, room["id"], [f"chatter {i}" for i in range(40)])
    expect_message(ann_page, "chatter 39")
    ann_page.locator(f"{STORED}", has_text="worth keeping").scroll_into_view_if_needed()
    act(ann_page, "worth keeping", "Pin")

    button = bob_page.locator(".pins-btn")
    expect(button.locator(".pin-count")).to_have_text("1")
    expect(bob_page.locator("li.sys", has_text="pinned a message")).to_contain_text("Ann")
    button.click()
    dialog = bob_page.get_by_role("dialog")
    expect(dialog.locator(".pin-item")).to_contain_text("worth keeping")
    dialog.locator(".pin-item").click()
    original = row(bob_page, "worth keeping")
    expect(original).to_be_in_viewport()
    expect(original.locator(".pin-mark")).to_be_visible()

    ann_page.locator(".pins-btn").click()
    ann_page.get_by_role("dialog").get_by_role("button", name="Unpin").click()
    expect(ann_page.get_by_role("dialog").locator(".pin-item")).to_have_count(0)
    expect(button.locator(".pin-count")).to_be_hidden()


def test_offline_reader_sees_edits_deletes_and_reactions_after_resume(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    send(ann_page, "to be edited")
    send(ann_page, "to be deleted")
    send(ann_page, "to be liked")
    expect_message(bob_page, "to be liked")
    seqs = {text: int(row(ann_page, text).get_attribute("data-seq")) for text in ("to be edited", "to be deleted", "to be liked")}

    bob_page.context.set_offline(True)
    expect(bob_page.locator(".conn")).to_have_attribute("data-state", "offline")
    base = f"/rooms/{room['id']}/messages"
    live_server.call("PATCH", f"{base}/{seqs['to be edited']}", {"text": "edited meanwhile"}, ann)
    live_server.call("DELETE", f"{base}/{seqs['to be deleted']}", user=ann)
    live_server.call("PUT", f"{base}/{seqs['to be liked']}/reactions/{urllib.parse.quote('❤️')}", user=ann)
    live_server.call("PUT", f"/rooms/{room['id']}/pins/{seqs['to be liked']}", user=ann)
    bob_page.context.set_offline(False)

    expect(row(bob_page, "edited meanwhile").locator(".edited-mark")).to_be_visible()
    expect(bob_page.locator(f"{STORED} .tombstone")).to_have_count(1)
    expect(row(bob_page, "to be liked").locator(".reaction")).to_have_text("❤️1")
    expect(bob_page.locator(".pins-btn .pin-count")).to_have_text("1")
    # Replayed twice (a reload, then the same events live again) they count once.
    bob_page.reload()
    open_room(bob_page, room["id"])
    expect(row(bob_page, "to be liked").locator(".reaction")).to_have_text("❤️1")
    expect(row(bob_page, "edited meanwhile")).to_be_visible()


def test_hostile_edits_stay_text(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    dialogs: list[str] = []
    bob_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    live_server.post_many(ann, room["id"], [f"innocent {i}" for i in range(8)])
    expect_message(bob_page, "innocent 7")
    history = live_server.call("GET", f"/rooms/{room['id']}/messages", user=ann)["messages"]
    seqs = [m["seq"] for m in history if m["type"] == "message"]
    payloads = XSS_PAYLOADS[:8]
    for seq, payload in zip(seqs, payloads, strict=True):
        live_server.call("PATCH", f"/rooms/{room['id']}/messages/{seq}", {"text": payload}, ann)
    for i in range(1, len(payloads) + 1):
        expect(bob_page.locator(f"{STORED} .msg-body", has_text=f"alert({i})").first).to_be_visible()
    row(bob_page, "alert(1)").locator(".edited-mark").click()
    expect(bob_page.locator("dialog .version-text").first).to_have_text(payloads[0])
    assert_inert(bob_page, dialogs)


def test_phone_long_press_opens_the_sheet(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "phones", members=(bob,))
    live_server.post(ann, room["id"], "tap and hold me")
    page = open_app(bob, viewport=PHONE, has_touch=True, is_mobile=True)
    page.locator(f'.sidebar a[href="#/room/{room["id"]}"]').click()
    message = row(page, "tap and hold me")
    message.dispatch_event("contextmenu")
    sheet = page.locator("dialog.sheet")
    expect(sheet).to_be_visible()
    box = sheet.bounding_box()
    assert box and box["width"] <= 375 and box["y"] + box["height"] >= 700
    sheet.get_by_role("button", name="React with 🎉").click()
    expect(message.locator(".reaction")).to_have_text("🎉1")

    message.dispatch_event("contextmenu")
    sheet.get_by_role("button", name="Reply in thread").click()
    panel = page.locator(".thread-panel")
    expect(panel).to_be_visible()
    assert panel.bounding_box()["width"] == 375
    page.locator(".thread-close").click()
    expect(panel).to_have_count(0)


def test_copied_link_opens_the_room_at_the_message(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    send(ann_page, "link to me")
    expect_message(ann_page, "link to me")  # stored before the 40 others, which come by REST
    live_server.post_many(ann, room["id"], [f"later {i}" for i in range(40)])
    expect_message(bob_page, "later 39")
    seq = row(ann_page, "link to me").get_attribute("data-seq")
    ann_page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    row(ann_page, "link to me").scroll_into_view_if_needed()
    act(ann_page, "link to me", "Copy link")
    expect(ann_page.locator(".actions-toast")).to_have_text("Link copied.")
    link = ann_page.evaluate("navigator.clipboard.readText()")
    assert link.endswith(f"#/room/{room['id']}/{seq}")

    fresh = open_app(bob, path=link.replace(live_server.url, ""))
    expect(row(fresh, "link to me")).to_be_in_viewport()
    expect(fresh.locator(f"{STORED}").last).not_to_be_in_viewport()


def test_keyboard_reaches_the_toolbar(open_app, live_server: Server) -> None:
    ann, bob, room, ann_page, bob_page = pair(open_app, live_server)
    send(ann_page, "first line")
    send(ann_page, "second line")
    expect_message(ann_page, "second line")
    row(ann_page, "second line").focus()
    ann_page.keyboard.press("ArrowUp")
    expect(row(ann_page, "first line")).to_be_focused()
    ann_page.keyboard.press("Enter")
    tools = row(ann_page, "first line").locator(".msg-tools")
    expect(tools.locator("button").first).to_be_focused()
    ann_page.keyboard.press("ArrowLeft")
    expect(tools.get_by_role("button", name="Delete")).to_be_focused()
    ann_page.keyboard.press("Escape")
    expect(row(ann_page, "first line")).to_be_focused()
