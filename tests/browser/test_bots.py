"""Bots in the browser (issue 12): the BOT badge in the timeline, the member list and the profile
card; slash-command completion (built-ins and a bot's own); /me as an emote; /topic; a bot made in
the settings, its token shown once, added to a room from the member panel; phone and dark too."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.harness import Server
from tests.browser.ui import expect_message, open_room

PHONE = {"width": 390, "height": 844}


def _bot(live_server: Server, owner, room_id: int, name: str = "helper") -> dict:
    made = live_server.call("POST", "/bots", {"username": f"{name}{room_id}", "display_name": "Helper"}, owner)
    live_server.call("POST", f"/rooms/{room_id}/bots", {"bot_id": made["bot"]["id"]}, owner)
    live_server.call("PUT", f"/bots/{made['bot']['id']}/commands",
                     {"commands": [{"name": "weather", "description": "the forecast", "usage": "city"}]}, owner)
    return made


def test_bot_badge_and_slash_completion(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    room = live_server.create_room(ann, "botroom")
    made = _bot(live_server, ann, room["id"])
    hook = live_server.call("POST", f"/bots/{made['bot']['id']}/hooks", {"room": room["id"]}, ann)["hook"]
    live_server.call("POST", hook["url"].removeprefix("/api/v1"), {"text": "build passed"})
    page = open_app(ann)
    open_room(page, room["id"])
    expect_message(page, "build passed")
    row = page.locator("li.msg", has_text="build passed")
    expect(row.locator(".bot-badge")).to_have_text("BOT")
    page.get_by_role("button", name="Show members").click() if page.locator(".members").count() == 0 else None
    member = page.locator(".member", has_text="Helper")
    expect(member.locator(".bot-badge")).to_be_visible()
    expect(page.locator(".member", has_text="Ann").locator(".bot-badge")).to_have_count(0)
    member.locator(".member-btn").click()
    expect(page.locator("dialog .bot-badge, .profile-card .bot-badge").first).to_be_visible()
    page.keyboard.press("Escape")

    box = page.locator(".composer-input")
    box.fill("/")
    options = page.locator(".completions [role=option]")
    expect(options.filter(has_text="/me")).to_have_count(1)
    expect(options.filter(has_text="/weather")).to_contain_text("the forecast")
    box.fill("/we")
    expect(options).to_have_count(1)
    box.press("Enter")
    expect(box).to_have_value("/weather ")
    box.fill("/me waves")
    box.press("Enter")
    expect(page.locator("li.msg .msg-body em", has_text="Ann waves")).to_be_visible()  # an emote: italic, named
    box.fill("/topic Bots welcome")
    box.press("Enter")
    expect(page.locator("li.sys", has_text="Bots welcome")).to_be_visible()
    box.fill("/nosuch thing")
    box.press("Enter")
    expect(page.locator(".composer-error")).to_contain_text("/nosuch")


def test_bot_made_in_settings_and_added_from_the_member_panel(open_app, live_server: Server) -> None:
    bea = live_server.register("bea", "Bea")
    room = live_server.create_room(bea, "workshop")
    page = open_app(bea, viewport=PHONE, color_scheme="dark")
    page.evaluate("import('/static/views/settings.js').then((m) => m.openSettings())")
    section = page.locator(".bots-section")
    expect(section).to_be_visible()
    name = f"robo{room['id']}"
    section.locator("input[name=bot_username]").fill(name)
    section.get_by_role("button", name="Create bot").click()
    token = section.locator(".bot-secret")
    expect(token).to_have_value(re.compile(r"^pbot_"))
    expect(section.locator(".bot-row", has_text=name).locator(".bot-badge")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    open_room(page, room["id"])
    if page.locator(".members .add-bot").count() == 0:
        page.get_by_role("button", name="Show members").click()
    page.locator(".members .add-bot").click()
    page.locator("dialog select[name=bot_id]").select_option(label=f"{name} (@{name})")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".member", has_text=name).locator(".bot-badge")).to_be_visible()
