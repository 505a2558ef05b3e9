"""Message search in the browser: A posts, B searches (an English prefix, Chinese), chooses a hit
and lands on the message in its room, loaded around it when it was not held; hostile text found
by search stays text; the view works at 375 px in both themes and in Chinese."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.browser.harness import Server
from tests.browser.test_xss import ALLOWED_IN_MESSAGES, DOM_CHECK
from tests.browser.ui import STORED, expect_message, open_room, send

FILLER = [f"filler line {i}" for i in range(160)]


def search(page: Page, q: str) -> None:
    box = page.locator(".sidebar .search-input")
    box.fill(q)
    box.press("Enter")
    expect(page.locator(".search-status")).not_to_have_text("Searching…")


def choose_hit(page: Page, text: str) -> None:
    """Chooses the hit by keyboard, as a person without a mouse would."""
    hit = page.locator(".search-hit", has_text=text)
    hit.focus()
    hit.press("Enter")



def test_b_finds_what_a_posted_and_lands_on_it_in_context(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "cafe-talk", members=(bob,))["id"]
    page_a = open_app(ann)
    open_room(page_a, room)
    send(page_a, "Meet at the Café tomorrow at ten")
    send(page_a, "我们明天去咖啡店吧")
    expect_message(page_a, "我们明天去咖啡店吧")
    live_server.post_many(ann, room, FILLER)  # the hits are now far above the latest page

    page_b = open_app(bob)
    search(page_b, "caf")
    hit = page_b.locator(".search-hit", has_text="Meet at the")
    expect(hit.locator("mark")).to_have_text("Café")
    expect(hit.locator(".hit-room")).to_contain_text("cafe-talk")
    expect(hit.locator(".hit-sender")).to_have_text("Ann")
    expect(page_b.locator(".search-hit")).to_have_count(1)
    choose_hit(page_b, "Meet at the")
    expect(page_b).to_have_url(f"{live_server.url}/#/room/{room}")
    row = page_b.locator(f"{STORED}.jumped", has_text="Meet at the Café tomorrow")
    expect(row).to_be_in_viewport()
    # In context: the messages around it are there, the latest ones are not (yet).
    expect(page_b.locator(STORED, has_text="filler line 0")).to_be_attached()
    expect(page_b.locator(STORED, has_text="filler line 159")).to_have_count(0)
    # Back to the newest: the gap fills and live messages show again.
    page_b.locator(".jump").click()
    expect(page_b.locator(STORED, has_text="filler line 159")).to_be_visible()
    send(page_a, "live after the jump")
    expect_message(page_b, "live after the jump")

    search(page_b, "咖啡")
    hit = page_b.locator(".search-hit", has_text="我们明天")
    expect(hit.locator("mark")).to_have_text("咖啡")
    choose_hit(page_b, "我们明天")
    expect(page_b.locator(f"{STORED}.jumped", has_text="我们明天去咖啡店吧")).to_be_in_viewport()


def test_a_hostile_message_found_by_search_renders_as_text(open_app, live_server: Server) -> None:
    eve = live_server.register("eve")
    vic = live_server.register("vic")
    room = live_server.create_room(eve, "hostile", members=(vic,))["id"]
    payload = "findme <img src=x onerror=window.__xss=1> <script>window.__xss=2</script>"
    live_server.post(eve, room, payload)
    page = open_app(vic, bypass_csp=True)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    search(page, "findme")
    snippet = page.locator(".search-hit .hit-snippet")
    expect(snippet).to_have_text(payload)
    assert page.locator(".search-results img, .search-results script").count() == 0
    assert page.evaluate(DOM_CHECK, sorted(ALLOWED_IN_MESSAGES)) == []
    assert dialogs == []


def test_search_view_on_a_phone_in_dark_theme_and_chinese(open_app, live_server: Server) -> None:
    ann = live_server.register("ann")
    room = live_server.create_room(ann, "phone-room")["id"]
    live_server.post(ann, room, "一个很长的句子里面有咖啡 and a longwordthatcouldoverflowthenarrowscreenifnotwrapped" * 3)
    page = open_app(ann, viewport=PHONE, color_scheme="dark", locale="zh-CN")
    expect(page.locator(".sidebar .search-input")).to_have_attribute("placeholder", "搜索消息…")
    search(page, "咖啡")
    expect(page.locator(".search-hit")).to_have_count(1)
    expect(page.locator("#search-title")).to_have_text("搜索消息")
    expect(page.locator(".search-status")).to_have_text("显示 1 条结果")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    mark_bg = page.locator(".search-hit mark").first.evaluate("(el) => getComputedStyle(el).backgroundColor")
    page_bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert mark_bg != page_bg
    page.locator(".search-hit").first.click()
    expect(page.locator(f'.room[data-room-id="{room}"] {STORED}.jumped')).to_be_in_viewport()
    # Filters narrow by room and person; an unknown person finds nothing.
    page.goto(f"/#/search?q=%E5%92%96%E5%95%A1&from=nobody{room}")
    expect(page.locator(".search-status")).to_have_text("没有找到消息。")
