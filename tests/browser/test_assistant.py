"""The assistant in the browser (issue 12): a room admin adds the server's own assistant from the member
panel's "Add bot" dialog, mentions it, and sees its answer (citing the knowledge-base entry) with the BOT
badge; the dialog's option in zh-CN, on a phone in the dark theme."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import Server
from tests.browser.ui import expect_message, open_room, send

PHONE = {"width": 390, "height": 844}
ANSWER = "From 9:00 to 18:00, Monday to Friday."


def _add_assistant(page, room_id: int, show: str = "Show members") -> None:
    open_room(page, room_id)
    if page.locator(".members .add-bot").count() == 0:
        page.get_by_role("button", name=show).click()
    page.locator(".members .add-bot").click()


def test_assistant_added_from_the_member_panel_answers_a_mention(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    desk = live_server.create_room(ann, "hours-desk")
    live_server.call("POST", f"/rooms/{desk['id']}/support", None, ann)
    live_server.call("POST", f"/rooms/{desk['id']}/support/entries",
                     {"title": "What are your opening hours?", "answer": ANSWER}, ann)
    room = live_server.create_room(ann, "front-office")
    assistant = live_server.call("GET", "/server", None, ann)["assistant"]
    page = open_app(ann)
    _add_assistant(page, room["id"])
    option = page.locator("dialog select[name=bot_id] option[data-assistant]")
    expect(option).to_have_text(f"Assistant (answers when mentioned) (@{assistant['username']})")
    page.locator("dialog select[name=bot_id]").select_option(value=str(assistant["id"]))
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("dialog")).to_have_count(0)  # closed: the page behind it is no longer inert
    member = page.locator(".member", has_text=assistant["display_name"])
    expect(member.locator(".bot-badge")).to_be_visible()

    send(page, f"@{assistant['username']} what are your opening hours?")
    expect_message(page, ANSWER)
    row = page.locator("li.msg", has_text=ANSWER).last
    expect(row.locator(".bot-badge")).to_have_text("BOT")
    expect(row).to_contain_text("What are your opening hours?")  # the entry it cites


def test_assistant_option_in_chinese_on_a_phone(open_app, live_server: Server) -> None:
    bo = live_server.register("bo", "Bo")
    desk = live_server.create_room(bo, "bo-desk", visibility="private")  # private: bo is its member
    live_server.call("POST", f"/rooms/{desk['id']}/support", None, bo)
    live_server.call("POST", f"/rooms/{desk['id']}/support/entries",
                     {"title": "如何申请退款？", "answer": "在订单页面申请退款。"}, bo)
    room = live_server.create_room(bo, "bo-room", visibility="private")  # its members may read the desk
    assistant = live_server.call("GET", "/server", None, bo)["assistant"]
    page = open_app(bo, viewport=PHONE, color_scheme="dark", locale="zh-CN")
    _add_assistant(page, room["id"], "显示成员")
    option = page.locator("dialog select[name=bot_id] option[data-assistant]")
    expect(option).to_have_text(f"助手（被提及时回答） (@{assistant['username']})")
    page.locator("dialog select[name=bot_id]").select_option(value=str(assistant["id"]))
    page.locator("dialog button[type=submit]").click()
    expect(page.locator("dialog")).to_have_count(0)
    expect(page.locator(".member", has_text=assistant["display_name"]).locator(".bot-badge")).to_be_visible()
    send(page, f"@{assistant['username']} 如何申请退款？")
    expect_message(page, "在订单页面申请退款。")
    row = page.locator("li.msg", has_text="在订单页面申请退款。").last
    expect(row).to_contain_text("出自“如何申请退款？”")
    expect(row.locator(".bot-badge")).to_be_visible()
