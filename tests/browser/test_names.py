"""Two people may choose one display name; the client shows each one's @username beside it wherever
a person is named, so a reader can always tell them apart (issue 7, finding 5)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import PASSWORD, Server
from tests.browser.ui import STORED, open_room, room_item


def test_people_with_one_display_name_are_told_apart_by_username(open_app, live_server: Server) -> None:
    viewer = live_server.register("viewer")  # display name = username: shown once
    real = live_server.register("sam", "Sam Lee")
    twin = live_server.register("samlee", "Sam Lee")
    room = live_server.create_room(viewer, "lobby", members=(real, twin))
    live_server.post(real, room["id"], "from the real one")
    live_server.post(twin, room["id"], "from the twin")
    dm = live_server.call("POST", "/direct", {"usernames": [viewer.username]}, twin)

    page = open_app(viewer)
    open_room(page, room["id"])
    for user, text in ((real, "from the real one"), (twin, "from the twin")):
        head = page.locator(STORED, has_text=text).locator(".msg-head")
        expect(head.locator(".msg-sender")).to_have_text("Sam Lee")
        expect(head.locator(".handle")).to_have_text(f"@{user.username}")
        expect(page.locator("li.sys p", has_text=f"@{user.username} ")).to_have_text(f"Sam Lee @{user.username} joined")
        member = page.locator(f'.member[data-user-id="{user.id}"] .member-names')
        expect(member).to_have_text(f"Sam Lee @{user.username}")
        expect(member.locator(".handle")).to_be_visible()
    me = page.locator(f'.member[data-user-id="{viewer.id}"] .member-names')
    expect(me).to_have_text(viewer.username)
    expect(me.locator(".handle")).to_have_count(0)

    # The direct chat is titled by the other person, with their username, in the sidebar and header.
    expect(room_item(page, dm["id"])).to_contain_text(f"Sam Lee @{twin.username}")
    open_room(page, dm["id"])
    expect(page.locator(".room-title")).to_have_text(f"Sam Lee @{twin.username}")
    expect(page.locator(".room-title .handle")).to_have_text(f"@{twin.username}")


def test_registering_with_a_hidden_character_says_why(open_app, live_server: Server) -> None:
    page = open_app()
    page.get_by_role("button", name="Register", exact=True).click()
    page.get_by_label("Username").fill(f"hidden{live_server.port}")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Display name (optional)").fill("Ann\u200bLee")
    page.locator(".auth-form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Display names have at most 64 characters, at least one of them visible, and no invisible or formatting characters.")
    page.get_by_label("Display name (optional)").fill("Ann Lee 👩\u200d💻")
    page.locator(".auth-form button[type=submit]").click()
    expect(page.locator(".me-name")).to_have_text("Ann Lee 👩\u200d💻")
