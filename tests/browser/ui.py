"""Small helpers that drive and read the client the way a person would."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

STORED = "ol.events:not(.pending-events) > li.msg"


def open_room(page: Page, room_id: int) -> None:
    page.locator(f'.sidebar a[href="#/room/{room_id}"]').click()
    page.locator(f'.room[data-room-id="{room_id}"] .timeline').wait_for()


def send(page: Page, text: str) -> None:
    box = page.locator(".composer-input")
    box.fill(text)
    box.press("Enter")


def stored_bodies(page: Page) -> Locator:
    """The bodies of stored (acknowledged and delivered) messages on screen."""
    return page.locator(f"{STORED} .msg-body")


def expect_message(page: Page, text: str) -> None:
    expect(page.locator(f"{STORED} .msg-body", has_text=text).last).to_be_visible()


def room_item(page: Page, room_id: int) -> Locator:
    return page.locator(f'.sidebar li[data-room-id="{room_id}"]')


def expect_unread(page: Page, room_id: int, count: int) -> None:
    expect(room_item(page, room_id)).to_have_attribute("data-unread", str(count))
