"""Phone-width layout, keyboard use and accessible names."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.browser.harness import Server
from tests.browser.ui import expect_message, send

NAMELESS_CONTROLS = """() => [...document.querySelectorAll('button, a[href], input, select, textarea, [tabindex]')]
  .filter((el) => el.getClientRects().length > 0)
  .filter((el) => {
    const labelled = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.labels?.length
      || el.textContent.trim() || el.getAttribute('title');
    return !labelled;
  })
  .map((el) => el.outerHTML.slice(0, 120))"""


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def in_viewport(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and box["x"] >= 0 \
        and box["x"] + box["width"] <= size["width"]


def test_phone_width_one_pane_at_a_time(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "pocket", "small screens", members=(bob,))
    live_server.post(bob, room["id"], "hello from a laptop " * 8)

    login = open_app(viewport=PHONE)
    expect(login.locator(".auth-form")).to_be_visible()
    assert no_horizontal_scroll(login)

    page = open_app(ann, viewport=PHONE)
    link = page.locator(f'.sidebar a[href="#/room/{room["id"]}"]')
    expect(link).to_be_visible()
    expect(page.locator(".main")).to_be_hidden()
    link.click()

    expect(page.locator(".sidebar")).to_be_hidden()
    expect(page.locator(".composer-input")).to_be_visible()
    assert in_viewport(page, ".composer-input")
    assert in_viewport(page, ".send-btn")
    expect_message(page, "hello from a laptop")
    assert no_horizontal_scroll(page)
    send(page, "typed on a phone")
    expect_message(page, "typed on a phone")

    page.get_by_role("button", name="Show members").click()
    expect(page.locator(".members")).to_be_visible()
    assert in_viewport(page, ".members .close-members")
    page.get_by_role("button", name="Close member list").click()
    expect(page.locator(".members")).to_have_count(0)

    page.get_by_role("button", name="Back to conversations").click()
    expect(page.locator(".sidebar")).to_be_visible()
    expect(link).to_be_visible()
    assert no_horizontal_scroll(page)


def test_keyboard_reaches_everything_and_controls_are_labelled(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    room = live_server.create_room(ann, "keys", "reachable")
    live_server.post(ann, room["id"], "first")
    page = open_app(ann)
    assert page.evaluate(NAMELESS_CONTROLS) == []

    focused = set()
    for _ in range(30):
        page.keyboard.press("Tab")
        focused.add(page.evaluate("() => document.activeElement.getAttribute('aria-label') || document.activeElement.textContent.trim()"))
    assert {"Create room", "Browse public rooms", "New direct chat", "Log out", "Language"} <= focused

    page.locator(f'.sidebar a[href="#/room/{room["id"]}"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator(".composer-input")).to_be_focused()
    page.keyboard.type("sent with the keyboard")
    page.keyboard.press("Enter")
    expect_message(page, "sent with the keyboard")
    assert page.evaluate(NAMELESS_CONTROLS) == []
    outline = page.locator(".composer-input").evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"

    page.get_by_role("button", name="Edit topic").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Topic")).to_have_value("reachable")
    dialog.get_by_label("Topic").fill("new topic")
    dialog.get_by_label("Topic").press("Enter")
    expect(page.locator(".room-topic")).to_have_text("new topic")
    expect(page.locator("li.sys", has_text="changed the topic to")).to_contain_text("new topic")
    expect(page.get_by_role("button", name="Edit topic")).to_be_focused()
    page.keyboard.press("Escape")
