"""Ctrl/Cmd+K quick switcher, @mention completion (with @room / @here for moderators and up) and
per-room notification settings (all / mentions / none, mute) as notify.js applies them."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import Server
from tests.browser.test_rooms import FAKE_NOTIFICATIONS
from tests.browser.ui import expect_message, open_room, room_item, send


def test_quick_switcher_filters_rooms_and_people(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    zed = live_server.register("zedd", "Zed Quimby")
    general = live_server.create_room(ann, f"general{live_server.port}")
    design = live_server.create_room(ann, f"design-review{live_server.port}", members=(zed,))
    page = open_app(ann)
    open_room(page, general["id"])

    page.keyboard.press("Control+k")
    dialog = page.get_by_role("dialog", name="Jump to…")
    box = dialog.get_by_role("combobox", name="Room or person")
    expect(box).to_be_focused()
    box.fill("dsgrev")  # fuzzy: letters in order
    options = dialog.get_by_role("option")
    expect(options.first).to_contain_text(f"design-review{live_server.port}")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator(f'.room[data-room-id="{design["id"]}"]')).to_be_visible()

    # People: someone I share a room with but have no direct chat with; arrows and Enter start one.
    page.keyboard.press("Control+k")
    box.fill("quimb")
    expect(options.filter(has_text="Zed Quimby")).to_have_count(1)
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")
    box.press("ArrowUp")
    expect(options.first).to_contain_text("Person")
    box.press("Enter")
    expect(page.locator(".room-title")).to_contain_text("Zed Quimby")

    # Nothing matching, then Escape closes and leaves the room as it was.
    page.keyboard.press("Control+k")
    box.fill("qqqqxxxx")
    expect(dialog).to_contain_text("Nothing matches.")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator(".room-title")).to_contain_text("Zed Quimby")


def test_mention_completion_lists_members_and_room_for_moderators(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    alice = live_server.register("alice", "Alice Liddell")
    albert = live_server.register("albert", "Albert")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "mentions", members=(alice, albert, bob))
    page = open_app(ann)
    open_room(page, room["id"])
    box = page.locator(".composer-input")
    box.press_sequentially("hi @al")
    options = page.get_by_role("listbox", name="Suggestions").get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("Albert")
    expect(options.nth(1)).to_contain_text("Alice Liddell")
    box.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    box.press("Tab")
    expect(box).to_have_value(f"hi @{alice.username} ")
    box.press("Enter")
    expect_message(page, f"hi @{alice.username}")

    # The owner may notify everyone; a plain member is not offered @room.
    box.press_sequentially("@ro")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("@room")
    box.press("Enter")
    expect(box).to_have_value("@room ")
    box.fill("")
    bob_page = open_app(bob)
    open_room(bob_page, room["id"])
    bob_box = bob_page.locator(".composer-input")
    bob_box.press_sequentially("@")
    bob_options = bob_page.get_by_role("listbox", name="Suggestions").get_by_role("option")
    expect(bob_options.first).to_be_visible()
    expect(bob_options.filter(has_text="@room")).to_have_count(0)
    expect(bob_options.filter(has_text="@here")).to_have_count(0)
    bob_box.press_sequentially("ro")
    expect(bob_options).to_have_count(0)


def test_notification_modes_per_room(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "noisy", members=(bob,))
    quiet = live_server.create_room(ann, "quiet")
    page = open_app(ann, path=None)
    page.add_init_script(FAKE_NOTIFICATIONS)
    page.goto("/")
    page.locator('.conn[data-state="connected"]').wait_for()
    bob_page = open_app(bob)
    open_room(bob_page, room["id"])

    def set_mode(label: str, mute: bool = False) -> None:
        open_room(page, room["id"])
        page.get_by_role("button", name="Notification settings").click()
        dialog = page.get_by_role("dialog", name="Notifications for noisy")
        dialog.get_by_label(label).check()
        dialog.get_by_label("Mute this conversation").set_checked(mute)
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        open_room(page, quiet["id"])
        page.evaluate("window.__setHidden(true)")

    def titles() -> list[str]:
        return page.evaluate("window.__notifications.map((n) => n.body)")

    # Default for a room: mentions only.
    page.evaluate("window.__setHidden(true)")
    send(bob_page, "plain chatter 1")
    send(bob_page, f"hey @{ann.username} 1")
    page.wait_for_function("() => window.__notifications.length >= 1")
    expect(room_item(page, room["id"])).to_have_attribute("data-unread", "2")
    assert titles() == [f"hey @{ann.username} 1"]

    # All messages.
    page.evaluate("window.__setHidden(false)")
    set_mode("All messages")
    send(bob_page, "plain chatter 2")
    page.wait_for_function("() => window.__notifications.length >= 2")
    assert titles()[-1] == "plain chatter 2"
    assert page.evaluate("window.__notifications.at(-1).title") == f"Bob (@{bob.username}) in noisy"

    # Nothing: neither chatter nor mentions; the unread count still moves (barrier).
    page.evaluate("window.__setHidden(false)")
    set_mode("Nothing")
    send(bob_page, f"hey @{ann.username} 3")
    expect(room_item(page, room["id"])).to_have_attribute("data-unread", "1")
    # Mute on top of "all": no notification, a quiet badge, the bell shows it.
    page.evaluate("window.__setHidden(false)")
    set_mode("All messages", mute=True)
    expect(room_item(page, room["id"]).locator(".room-link")).to_have_class("room-link muted-room")
    send(bob_page, "plain chatter 4")
    expect(room_item(page, room["id"])).to_have_attribute("data-unread", "1")
    assert len(titles()) == 2
    open_room(page, room["id"])
    expect(page.get_by_role("button", name="Notification settings")).to_have_attribute("data-muted", "true")
    # Kept in this browser across reloads.
    page.reload()
    page.get_by_role("button", name="Notification settings").click()
    dialog = page.get_by_role("dialog", name="Notifications for noisy")
    expect(dialog.get_by_label("All messages")).to_be_checked()
    expect(dialog.get_by_label("Mute this conversation")).to_be_checked()
