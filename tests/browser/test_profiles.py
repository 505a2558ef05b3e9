"""Avatars (initials with a stable colour, or the picture when a user has one), the profile card
with its Message button, and the settings dialog (name live for others, password, theme)."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Route, expect

from tests.browser.harness import PASSWORD, Server
from tests.browser.ui import STORED, expect_message, open_room, room_item, send
from tests.support import media


def test_avatars_show_initials_once_per_run_and_pictures_when_set(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann Lee")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "faces", members=(bob,))
    for text in ("one", "two", "three"):
        live_server.post(ann, room["id"], text)
    live_server.post(bob, room["id"], "from bob")
    page = open_app(bob)
    open_room(page, room["id"])
    expect_message(page, "from bob")

    runs = page.locator(f"{STORED}:not(.grouped)")
    expect(runs).to_have_count(2)
    expect(page.locator(f"{STORED}.grouped")).to_have_count(2)
    ann_avatar = runs.nth(0).locator(".avatar")
    expect(ann_avatar).to_have_text("AL")
    expect(runs.nth(1).locator(".avatar")).to_have_text("B")
    colour = ann_avatar.get_attribute("class")
    assert re.search(r"avatar-c\d+", colour)
    # The same person has the same colour in the member list; contrast of the initials holds.
    member_avatar = page.locator(f'.member[data-user-id="{ann.id}"] .avatar')
    expect(member_avatar).to_have_attribute("class", colour)
    rgb = ann_avatar.evaluate("el => getComputedStyle(el).backgroundColor")
    r, g, b = (int(x) for x in re.findall(r"\d+", rgb)[:3])

    def lum(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    contrast = 1.05 / (0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b) + 0.05)
    assert contrast >= 4.5, (rgb, contrast)

    # A user with a picture: the image replaces the initials.
    me = live_server.set_avatar(ann, media.png(300, 200))
    avatar_url = (me.get("user") or me)["avatar_url"]
    assert avatar_url
    other = open_app(bob, path=None)
    other.goto(f"/#/room/{room['id']}")
    picture = other.locator(f"{STORED}:not(.grouped) .avatar img").first
    expect(picture).to_have_attribute("src", re.compile(re.escape(avatar_url.split("?")[0])))
    expect(other.locator(f"{STORED}:not(.grouped)").nth(1).locator(".avatar")).to_have_text("B")


def test_profile_card_opens_from_a_name_and_message_starts_a_direct_chat(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "cards", members=(bob,))
    live_server.post(bob, room["id"], "click my name")
    page = open_app(ann)
    open_room(page, room["id"])
    expect_message(page, "click my name")

    page.locator(STORED, has_text="click my name").get_by_role("button", name=re.compile("^Bob")).first.click()
    card = page.get_by_role("dialog", name="Bob")
    expect(card).to_contain_text(f"@{bob.username}")
    expect(card).to_contain_text("Role here: member")
    card.get_by_role("button", name="Message").click()
    expect(card).to_be_hidden()
    expect(page.locator(".room-title")).to_contain_text("Bob")
    direct_id = int(page.locator(".room").get_attribute("data-room-id"))
    assert direct_id != room["id"]
    send(page, "hi in private")
    expect_message(page, "hi in private")

    # Again from the member list of the room: the same direct chat, not a new one.
    open_room(page, room["id"])
    page.locator(f'.member[data-user-id="{bob.id}"] .member-btn').click()
    card = page.get_by_role("dialog", name="Bob")
    expect(card.get_by_role("button", name="Message")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(f'.room[data-room-id="{direct_id}"]')).to_be_visible()
    expect_message(page, "hi in private")
    expect(room_item(page, direct_id).locator(".avatar")).to_have_text("B")

    # Escape closes the card; my own card offers to edit my profile instead.
    open_room(page, room["id"])
    page.locator(f'.member[data-user-id="{ann.id}"] .member-btn').click()
    card = page.get_by_role("dialog", name="Ann")
    expect(card.get_by_role("button", name="Edit profile")).to_be_visible()
    expect(card.get_by_role("button", name="Message")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(card).to_be_hidden()


def test_settings_change_name_live_password_and_theme(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "settings", members=(bob,))
    live_server.post(bob, room["id"], "before the change")
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])
    expect_message(ann_page, "before the change")

    bob_page.get_by_role("button", name="Your profile").click()
    dialog = bob_page.get_by_role("dialog", name="Settings")
    dialog.get_by_role("region", name="Profile").get_by_label("Display name").fill("Roberto")
    dialog.get_by_label("Current password").fill(PASSWORD)
    dialog.get_by_label("New password").fill("another fine passphrase 7")
    dialog.get_by_label("Dark").check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(ann_page.locator(".msg-sender", has_text="Roberto")).to_be_visible()
    expect(ann_page.locator(f'.member[data-user-id="{bob.id}"] .avatar')).to_have_text("R")
    expect(bob_page.locator("html")).to_have_attribute("data-theme", "dark")
    assert bob_page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(22, 24, 31)"

    # The theme is kept across a reload; the new password logs in through the UI.
    bob_page.reload()
    expect(bob_page.locator("html")).to_have_attribute("data-theme", "dark")
    bob_page.get_by_role("button", name="Log out").click()
    bob_page.get_by_label("Username").fill(bob.username)
    bob_page.get_by_label("Password").fill("another fine passphrase 7")
    bob_page.locator("form.auth-form").get_by_role("button", name="Log in").click()
    expect(bob_page.locator(".me-name")).to_have_text("Roberto")

    # Chinese from the settings: the whole shell follows.
    bob_page.get_by_role("button", name="Your profile").click()
    dialog = bob_page.get_by_role("dialog", name="Settings")
    dialog.get_by_label("中文").check()
    dialog.get_by_label("System").check()
    dialog.get_by_role("button", name="Save").click()
    expect(bob_page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(bob_page.locator(".conn")).to_have_text("已连接")
    expect(bob_page.locator("html")).not_to_have_attribute("data-theme", "dark")


def test_status_and_picture_controls_follow_what_the_server_offers(open_app, live_server: Server) -> None:
    """This server offers `status` and avatar uploads: the controls show, and a status someone set
    shows, as text, on their card. A server whose OpenAPI document lacks them gets no controls."""
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "status", members=(bob,))
    live_server.call("PATCH", "/me", {"status": "On holiday until <b>Monday</b>"}, bob)
    page = open_app(ann)
    open_room(page, room["id"])
    page.get_by_role("button", name="Your profile").click()
    dialog = page.get_by_role("dialog", name="Settings")
    expect(dialog.get_by_label("Status")).to_be_visible()
    expect(dialog.get_by_label("Picture")).to_be_visible()
    page.keyboard.press("Escape")
    page.locator(f'.member[data-user-id="{bob.id}"] .member-btn').click()
    card = page.get_by_role("dialog", name="Bob")
    expect(card.locator(".card-status")).to_have_text("On holiday until <b>Monday</b>")
    page.keyboard.press("Escape")

    def poorer_openapi(route: Route) -> None:
        answer = route.fetch()
        doc = answer.json()
        doc["paths"].pop("/api/v1/me/avatar")
        doc["components"]["schemas"]["ProfileBody"]["properties"].pop("status")
        route.fulfill(response=answer, body=json.dumps(doc))

    other = open_app(ann, path=None)
    other.route("**/api/openapi.json", poorer_openapi)
    other.goto(f"/#/room/{room['id']}")
    other.get_by_role("button", name="Your profile").click()
    dialog = other.get_by_role("dialog", name="Settings")
    expect(dialog.get_by_role("region", name="Profile").get_by_label("Display name")).to_be_visible()
    other.wait_for_load_state("networkidle")
    expect(dialog.get_by_label("Status")).to_be_hidden()
    expect(dialog.get_by_label("Picture")).to_be_hidden()
