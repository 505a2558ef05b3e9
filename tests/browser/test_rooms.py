"""Rooms through the UI: create, browse and join, invite and accept, members with roles and presence,
leave; desktop notifications for mentions and direct messages while the tab is hidden."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import Server
from tests.browser.ui import expect_message, expect_unread, open_room, room_item, send

FAKE_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = class {
  static permission = 'granted';
  static requestPermission() { return Promise.resolve('granted'); }
  constructor(title, options) { window.__notifications.push({ title, body: options.body }); }
  close() {}
};
let hidden = false;
window.__setHidden = (value) => { hidden = value; document.dispatchEvent(new Event('visibilitychange')); };
Object.defineProperty(document, 'hidden', { get: () => hidden });
Object.defineProperty(document, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible') });
"""


def test_create_browse_join_and_leave_a_public_room(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    ann_page, bob_page = open_app(ann), open_app(bob)

    ann_page.get_by_role("button", name="Create room").first.click()
    dialog = ann_page.get_by_role("dialog")
    dialog.get_by_label("Name").fill(f"garden{live_server.port}")
    dialog.get_by_label("Topic (optional)").fill("Plants and such")
    dialog.get_by_role("button", name="Create").click()
    expect(ann_page.locator(".room-title")).to_have_text(f"#garden{live_server.port}")
    expect(ann_page.locator(".room-topic")).to_have_text("Plants and such")
    room_id = int(ann_page.locator(".room").get_attribute("data-room-id"))

    bob_page.locator(".sidebar").get_by_role("link", name="Browse public rooms").click()
    bob_page.get_by_label("Search rooms").fill(f"garden{live_server.port}")
    card = bob_page.locator(f'.browse-card[data-room-id="{room_id}"]')
    expect(card).to_contain_text("Plants and such")
    expect(card).to_contain_text("1 member")
    card.get_by_role("button", name="Join").click()
    expect(bob_page.locator(".composer-input")).to_be_visible()
    expect(ann_page.locator("li.sys", has_text=f"Bob @{bob.username} joined")).to_be_visible()

    members = ann_page.locator(".members")
    expect(members.locator('.member', has_text="Bob")).to_have_class("member online")
    expect(members.locator('.member', has_text="Ann")).to_contain_text("owner")
    bob_page.context.set_offline(True)
    expect(members.locator('.member', has_text="Bob")).to_have_class("member")
    bob_page.context.set_offline(False)
    expect(members.locator('.member', has_text="Bob")).to_have_class("member online")

    bob_page.get_by_role("button", name="Leave room").click()
    bob_page.get_by_role("dialog").get_by_role("button", name="Leave").click()
    expect(room_item(bob_page, room_id)).to_have_count(0)
    expect(bob_page.locator(".home")).to_be_visible()
    expect(ann_page.locator("li.sys", has_text=f"Bob @{bob.username} left")).to_be_visible()
    expect(members.locator('.member', has_text="Bob")).to_have_count(0)


def test_invite_to_a_private_room_and_accept(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "backroom", "members only", visibility="private")
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])

    ann_page.get_by_role("button", name="Invite people").click()
    dialog = ann_page.get_by_role("dialog")
    dialog.get_by_label("Find people").fill(bob.username)
    dialog.locator(".user-option").first.click()
    dialog.get_by_role("button", name="Invite").click()
    expect(dialog).to_be_hidden()
    expect(ann_page.locator("li.sys", has_text=f"Ann @{ann.username} invited Bob @{bob.username}")).to_be_visible()

    invitation = room_item(bob_page, room["id"])
    expect(invitation).to_be_visible()
    invitation.locator("a").click()
    expect(bob_page.locator(".notice")).to_contain_text("You have been invited to this room.")
    bob_page.get_by_role("button", name="Accept").click()
    expect(bob_page.locator(".composer-input")).to_be_visible()
    send(bob_page, "thanks for the invite")
    expect_message(ann_page, "thanks for the invite")


def test_notifications_for_mentions_and_direct_messages_while_hidden(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "notices", members=(bob,))
    direct = live_server.call("POST", "/direct", {"usernames": [ann.username]}, bob)
    page = open_app(ann, path=None)
    page.add_init_script(FAKE_NOTIFICATIONS)
    page.goto(f"/#/room/{room['id']}")
    expect(page.locator('.conn[data-state="connected"]')).to_be_visible()

    live_server.post(bob, room["id"], "seen while visible, no notification")
    expect_message(page, "seen while visible")
    page.evaluate("window.__setHidden(true)")
    live_server.post(bob, room["id"], "plain message, no notification")
    live_server.post(bob, room["id"], f"@{ann.username} are you there?")
    live_server.post(bob, direct["id"], "psst")
    expect_unread(page, direct["id"], 1)
    expect_unread(page, room["id"], 2)
    notes = page.evaluate("window.__notifications")
    assert notes == [
        {"title": f"Bob (@{bob.username}) mentioned you in notices", "body": f"@{ann.username} are you there?"},
        {"title": f"Bob (@{bob.username})", "body": "psst"},
    ]
    page.evaluate("window.__setHidden(false)")
    expect_unread(page, room["id"], 0)
    expect_unread(page, direct["id"], 1)
