"""The emoji picker (search in English and Chinese, categories, recent, keyboard, Escape) and
`:shortcode:` completion in the composer, with the data loaded only on first use."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import Server
from tests.browser.ui import expect_message, open_room

EMOJI_DATA = "/static/emoji/emoji.json"


def test_picker_searches_and_inserts_at_the_cursor(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    room = live_server.create_room(ann, "emoji")
    page = open_app(ann, path=None)
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if r.url.endswith(EMOJI_DATA) else None)
    page.goto(f"/#/room/{room['id']}")
    box = page.locator(".composer-input")
    expect(box).to_be_visible()
    assert fetched == [], "emoji data must not load with the first screen"

    box.fill("hello  world")
    box.evaluate("el => el.setSelectionRange(6, 6)")
    page.get_by_role("button", name="Insert emoji").click()
    picker = page.get_by_role("dialog", name="Emoji")
    expect(picker).to_be_visible()
    search = picker.get_by_role("searchbox", name="Search emoji")
    expect(search).to_be_focused()
    search.fill("grinning")
    expect(picker.locator(".emoji-cell").first).to_have_attribute("data-emoji", "😀")
    picker.get_by_role("button", name="grinning face", exact=True).click()
    expect(picker).to_be_hidden()
    expect(box).to_have_value("hello 😀 world")
    assert len(fetched) == 1

    # Keyboard only: down into the grid, right, Enter; the first choice is now in "recent".
    page.get_by_role("button", name="Insert emoji").click()
    expect(picker.get_by_role("tab", name="Recently used")).to_have_attribute("aria-selected", "true")
    expect(picker.locator(".emoji-cell").first).to_have_attribute("data-emoji", "😀")
    picker.get_by_role("tab", name="Travel and places").click()
    page.keyboard.press("ArrowLeft")
    expect(picker.get_by_role("tab", name="Food and drink")).to_be_focused()
    expect(picker.get_by_role("tab", name="Food and drink")).to_have_attribute("aria-selected", "true")
    expect(picker.locator(".emoji-cell").first).to_be_visible()
    first_food = picker.locator(".emoji-cell").nth(1).get_attribute("data-emoji")
    picker.get_by_role("searchbox").press("ArrowDown")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(picker).to_be_hidden()
    expect(box).to_have_value(f"hello 😀{first_food} world")

    # Escape closes without inserting and gives focus back to the button.
    page.get_by_role("button", name="Insert emoji").click()
    expect(picker).to_be_visible()
    page.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(page.get_by_role("button", name="Insert emoji")).to_be_focused()
    expect(box).to_have_value(f"hello 😀{first_food} world")
    box.press("Enter")
    expect_message(page, f"hello 😀{first_food} world")


def test_picker_searches_chinese_names_in_chinese(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    room = live_server.create_room(ann, "表情")
    page = open_app(ann, locale="zh-CN")
    open_room(page, room["id"])
    page.get_by_role("button", name="插入表情").click()
    picker = page.get_by_role("dialog", name="表情")
    picker.get_by_role("searchbox", name="搜索表情").fill("书呆子")
    cell = picker.locator(".emoji-cell").first
    expect(cell).to_have_attribute("data-emoji", "🤓")
    expect(cell).to_have_attribute("aria-label", "书呆子脸")


def test_shortcode_completion(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    room = live_server.create_room(ann, "shortcodes")
    page = open_app(ann)
    open_room(page, room["id"])
    box = page.locator(".composer-input")
    box.press_sequentially("nice :thumbs")
    options = page.get_by_role("listbox", name="Suggestions").get_by_role("option")
    expect(options.first).to_contain_text("👍")
    expect(box).to_have_attribute("aria-expanded", "true")
    box.press("Enter")
    thumbs = "\U0001F44D\uFE0F"  # as the data set writes it: fully qualified, with VS16
    expect(box).to_have_value(f"nice {thumbs}")
    expect(options).to_have_count(0)

    # A full :shortcode: typed out becomes the emoji; Escape dismisses the list and Enter sends.
    box.press_sequentially(" :tada:")
    expect(box).to_have_value(f"nice {thumbs} 🎉")
    box.press_sequentially(" :smi")
    expect(options.first).to_be_visible()
    box.press("Escape")
    expect(options).to_have_count(0)
    box.press("Enter")
    expect_message(page, f"nice {thumbs} 🎉 :smi")
