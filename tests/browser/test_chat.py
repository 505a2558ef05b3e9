"""Two people chatting live, in a room and in a direct chat, through real browsers."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.harness import PASSWORD, Server
from tests.browser.ui import STORED, expect_message, expect_unread, open_room, room_item, send, stored_bodies


def test_register_log_out_and_log_in_through_the_ui(open_app, live_server: Server) -> None:
    page = open_app()
    page.get_by_role("button", name="Register", exact=True).click()
    username = f"newcomer{live_server.port}"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Display name (optional)").fill("New Comer")
    page.locator(".auth-form button[type=submit]").click()
    expect(page.locator(".me-name")).to_have_text("New Comer")

    page.reload()
    expect(page.locator(".me-name")).to_have_text("New Comer")

    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".auth-form")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("not the password")
    page.locator(".auth-form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator(".auth-form button[type=submit]").click()
    expect(page.locator('.conn[data-state="connected"]')).to_be_visible()


def test_two_people_chat_live_in_a_room(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "lobby", "Chat **here**", members=(bob,))
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])
    open_room(bob_page, room["id"])

    send(ann_page, "Hello **Bob**\nsecond line")
    expect_message(bob_page, "Hello Bob")
    expect(bob_page.locator(f"{STORED} .msg-body strong", has_text="Bob")).to_be_visible()
    expect_message(ann_page, "Hello Bob")
    expect(ann_page.locator(".pending-events li")).to_have_count(0)

    bob_page.locator(".composer-input").press_sequentially("Hi")
    expect(ann_page.locator(".typing")).to_have_text(f"Bob @{bob.username} is typing…")
    bob_page.locator(".composer-input").press("Shift+Enter")
    bob_page.locator(".composer-input").press_sequentially("Ann")
    bob_page.locator(".composer-input").press("Enter")
    expect(ann_page.locator(f"{STORED} .msg-body").last).to_have_text("Hi\nAnn")
    expect(ann_page.locator(".typing")).to_have_text("")

    # Consecutive messages from one sender share one header; system events are small lines.
    send(bob_page, "and one more")
    expect_message(ann_page, "and one more")
    expect(ann_page.locator(f"{STORED}").last).to_have_class("msg grouped")
    expect(ann_page.locator("li.sys", has_text=f"Bob @{bob.username} joined")).to_be_visible()
    expect(ann_page.locator(".day").first).to_have_text("Today")


def test_unread_count_and_mention_marker_follow_live_messages(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    quiet = live_server.create_room(ann, "quiet", members=(bob,))
    busy = live_server.create_room(ann, "busy", members=(bob,))
    ann_page = open_app(ann)
    open_room(ann_page, quiet["id"])

    live_server.post(bob, busy["id"], "nothing for ann")
    expect_unread(ann_page, busy["id"], 1)
    expect(room_item(ann_page, busy["id"])).to_have_attribute("data-mention", "false")
    live_server.post(bob, busy["id"], f"hey @{ann.username}, look")
    expect_unread(ann_page, busy["id"], 2)
    expect(room_item(ann_page, busy["id"])).to_have_attribute("data-mention", "true")
    expect(ann_page).to_have_title("(2) Parley")

    open_room(ann_page, busy["id"])
    expect_unread(ann_page, busy["id"], 0)
    expect(room_item(ann_page, busy["id"])).to_have_attribute("data-mention", "false")
    expect(ann_page.locator(".mention-me")).to_have_text(f"@{ann.username}")


def test_direct_chat_started_from_the_user_picker(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bobby", "Bobby Tables")
    ann_page, bob_page = open_app(ann), open_app(bob)

    ann_page.get_by_role("button", name="New direct chat").first.click()
    dialog = ann_page.get_by_role("dialog")
    dialog.get_by_label("Find people").fill(bob.username)
    dialog.get_by_role("button", name=f"Bobby Tables @{bob.username}").click()
    expect(dialog.locator(".chip")).to_have_text(f"Bobby Tables @{bob.username}")
    dialog.get_by_role("button", name="Start chat").click()
    expect(ann_page.locator(".room-title")).to_have_text(f"Bobby Tables @{bob.username}")

    send(ann_page, "a private word")
    dm = bob_page.locator(".sidebar li[data-room-id]", has_text="Ann")
    expect(dm).to_have_attribute("data-unread", "1")
    dm.locator("a").click()
    expect_message(bob_page, "a private word")
    expect(dm).to_have_attribute("data-unread", "0")
    send(bob_page, "received")
    expect_message(ann_page, "received")


def test_reload_keeps_history_and_unread_counts(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    here = live_server.create_room(ann, "here", members=(bob,))
    there = live_server.create_room(ann, "there", members=(bob,))
    ann_page = open_app(ann)
    open_room(ann_page, here["id"])
    send(ann_page, "before the reload")
    expect_message(ann_page, "before the reload")
    unseen = ["unseen 0", f"unseen 1 for @{ann.username}", "unseen 2"]
    for text in unseen:
        live_server.post(bob, there["id"], text)
    expect_unread(ann_page, there["id"], 3)

    ann_page.reload()
    expect_message(ann_page, "before the reload")
    expect_unread(ann_page, there["id"], 3)
    expect(room_item(ann_page, there["id"])).to_have_attribute("data-mention", "true")

    open_room(ann_page, there["id"])
    expect(stored_bodies(ann_page)).to_have_text(unseen)
    expect_unread(ann_page, there["id"], 0)
    ann_page.wait_for_function(
        f"""async () => (await (await fetch('/api/v1/rooms/{there["id"]}')).json()).unread === 0""")
    ann_page.reload()
    expect_unread(ann_page, there["id"], 0)
    expect(room_item(ann_page, there["id"])).to_have_attribute("data-mention", "false")
    expect(stored_bodies(ann_page)).to_have_text(unseen)


def test_scrolling_up_loads_older_pages(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    room = live_server.create_room(ann, "history")
    live_server.post_many(ann, room["id"], [f"line {i}" for i in range(240)])
    page = open_app(ann)
    open_room(page, room["id"])
    expect(stored_bodies(page).last).to_have_text("line 239")
    assert stored_bodies(page).count() <= 100

    scroll_to_top_until(page, lambda: page.locator(".timeline-edge").inner_text() == "This is the start of the conversation.")
    expect(stored_bodies(page).first).to_have_text("line 0")
    expect(page.locator("li.sys", has_text=f"Ann @{ann.username} created this room")).to_be_visible()


def scroll_to_top_until(page: Page, done, attempts: int = 60) -> None:
    for _ in range(attempts):
        if done():
            return
        page.locator(".timeline").evaluate("el => { el.scrollTop = 0; }")
        page.wait_for_function("() => !document.querySelector('.timeline-edge').textContent.includes('…')")
    raise AssertionError("scrolling up never reached the start")
