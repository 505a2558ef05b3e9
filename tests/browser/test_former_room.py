"""A search hit in a room I left opens that room read-only, up to my leave: the hit in context, no
composer, a "You left this room" banner with Join again when the room is public; a private room
offers no join; a room I never joined stays "not joined". 375 px, dark theme and Chinese too."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.browser.harness import Server
from tests.browser.test_search import choose_hit, search
from tests.browser.ui import STORED

FILLER = [f"filler line {i}" for i in range(80)]


def leave(server: Server, user, room: int) -> None:  # noqa: ANN001 - the harness's User
    server.call("POST", f"/rooms/{room}/leave", {}, user)


def test_a_hit_in_a_room_i_left_opens_it_read_only_up_to_the_leave(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "old-team", members=(bob,))["id"]
    live_server.post(ann, room, "the zebra plan, first draft")
    live_server.post_many(ann, room, FILLER)  # the hit is far above the newest readable page
    leave(live_server, bob, room)
    live_server.post(ann, room, "zebra secrets after bob left")

    page = open_app(bob)
    search(page, "zebra")
    expect(page.locator(".search-hit")).to_have_count(1)  # nothing after the leave
    choose_hit(page, "first draft")
    expect(page).to_have_url(f"{live_server.url}/#/room/{room}")
    view = page.locator(".room.former-room")
    expect(view.locator(".room-title")).to_have_text("#old-team")
    expect(view.locator(".former-banner")).to_contain_text("You left this room.")
    expect(view.locator(f"{STORED}.jumped", has_text="the zebra plan, first draft")).to_be_in_viewport()
    expect(view.locator(STORED, has_text="filler line 0")).to_be_attached()  # in context
    expect(view.locator(".former-end")).to_have_text("You left here.")
    expect(view.locator(".composer")).to_have_count(0)
    expect(page.locator(STORED, has_text="zebra secrets")).to_have_count(0)
    # Joining again: the ordinary room, with what came after and a composer.
    view.get_by_role("button", name="Join again").click()
    joined = page.locator(f'.room[data-room-id="{room}"]')
    expect(joined.locator(".composer")).to_be_visible()
    expect(joined.locator(f"{STORED} .msg-body", has_text="zebra secrets after bob left")).to_be_visible()
    expect(page.locator(".former-room")).to_have_count(0)


def _no_overflow(page: Page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_a_private_room_left_on_a_phone_in_dark_and_chinese_and_a_room_never_joined(
        open_app, live_server: Server) -> None:
    ann = live_server.register("ann")
    bob = live_server.register("bob")
    private = live_server.create_room(ann, "hidden-room", visibility="private", members=(bob,))["id"]
    public = live_server.create_room(ann, "never-joined")["id"]
    live_server.post(ann, private, "一个很长的句子里面有咖啡 longwordthatcouldoverflowthenarrowscreen" * 2)
    leave(live_server, bob, private)
    page = open_app(bob, viewport=PHONE, color_scheme="dark", locale="zh-CN")
    search(page, "咖啡")
    choose_hit(page, "一个很长")
    view = page.locator(".room.former-room")
    expect(view.locator(".former-banner")).to_contain_text("你已离开这个聊天室。")
    expect(view.locator(".former-banner")).to_contain_text("需要受到邀请")
    expect(view.locator(".former-banner button")).to_have_count(0)  # private: no join offer
    expect(view.locator(f"{STORED}.jumped")).to_be_in_viewport()
    _no_overflow(page)
    banner_bg = view.locator(".former-banner").evaluate("(el) => getComputedStyle(el).backgroundColor")
    assert banner_bg != page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    # A room I never joined: the history request is refused (the barrier), "not joined" stays.
    with page.expect_response(lambda r: f"/rooms/{public}/messages" in r.url) as answer:
        page.goto(f"/#/room/{public}")
    assert answer.value.status == 404
    expect(page.locator(".room.placeholder .room-title")).to_have_text("你不在这个聊天室中")
    expect(page.locator(".former-room")).to_have_count(0)
