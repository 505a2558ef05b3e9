"""English and Simplified Chinese: chosen from the browser, switchable, and every visible string
(text, labels, placeholders, tooltips) follows the choice. User text and the brand are exempt."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.harness import Server
from tests.browser.ui import STORED, expect_message, open_room, send

VISIBLE_STRINGS = """(scope) => {
  const root = scope ? document.querySelector(scope) : document.body;
  const exempt = (el) => el.closest('[data-user], [translate="no"], .sr-only, option');
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const found = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (text && !exempt(node.parentElement) && shown(node.parentElement)) found.push(text);
  }
  for (const el of root.querySelectorAll('[aria-label], [placeholder], [title]')) {
    if (exempt(el) || !shown(el)) continue;
    for (const name of ['aria-label', 'placeholder', 'title']) if (el.getAttribute(name)) found.push(el.getAttribute(name));
  }
  return found;
}"""
CJK = re.compile(r"[\u3400-\u9fff]")
LETTER = re.compile(r"[^\W\d_]")


def untranslated(page: Page, scope: str | None = None) -> list[str]:
    """Visible strings that hold letters but no Chinese character."""
    strings = page.evaluate(VISIBLE_STRINGS, scope)
    assert len(strings) > 5, strings
    return [s for s in strings if LETTER.search(s) and not CJK.search(s)]


def test_switching_to_chinese_translates_every_visible_string(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "lobby", "a topic", members=(bob,))
    live_server.post(bob, room["id"], "hello")
    invite_room = live_server.create_room(bob, "secret", visibility="private")
    live_server.call("POST", f"/rooms/{invite_room['id']}/invite", {"usernames": [ann.username]}, bob)
    page = open_app(ann)
    open_room(page, room["id"])
    expect_message(page, "hello")
    english = untranslated(page)
    assert "Connected" in english and "Members" in english and "Today" in english

    page.get_by_label("Language").select_option("zh-CN")
    expect(page.locator(".conn")).to_have_text("已连接")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect_message(page, "hello")
    assert untranslated(page) == []

    page.get_by_role("button", name="创建聊天室").first.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert untranslated(page, "dialog") == []
    page.get_by_role("button", name="取消").click()

    page.goto("/#/browse")
    expect(page.locator(".browse-card").first).to_be_visible()
    assert untranslated(page) == []

    page.reload()
    expect(page.locator(".conn")).to_have_text("已连接")
    page.get_by_role("button", name="退出登录").click()
    expect(page.locator(".auth-form")).to_be_visible()
    assert untranslated(page) == []
    page.get_by_role("button", name="注册", exact=True).first.click()
    assert untranslated(page) == []


def test_language_follows_the_browser_and_chinese_text_round_trips(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "安")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "茶馆", "聊天", members=(bob,))
    ann_page = open_app(ann, locale="zh-CN")
    expect(ann_page.locator(".conn")).to_have_text("已连接")
    bob_page = open_app(bob)
    expect(bob_page.locator(".conn")).to_have_text("Connected")
    open_room(ann_page, room["id"])
    open_room(bob_page, room["id"])

    text = "你好，世界！🌏 **加粗** 和 `代码`"
    send(ann_page, text)
    expect_message(bob_page, "你好，世界！🌏 加粗 和 代码")
    expect(bob_page.locator(f"{STORED} .msg-body strong").last).to_have_text("加粗")
    expect(bob_page.locator(f"{STORED} .msg-sender").last).to_have_text("安")
    history = live_server.call("GET", f"/rooms/{room['id']}/messages", user=bob)["messages"]
    assert history[-1]["text"] == text

    send(bob_page, "收到 👍")
    expect_message(ann_page, "收到 👍")
    expect(ann_page.locator(".composer-input")).to_have_attribute("placeholder", "发消息到 茶馆")


STATIC = Path(__file__).resolve().parents[2] / "src" / "parley" / "static"
KEY = re.compile(r"^\s*'([\w.]+)': '(.*)',$", re.MULTILINE)


def strings(locale: str) -> dict[str, str]:
    """A language's strings: locales/<code>.js plus the bundles loaded on first use (<bundle>-<code>.js)."""
    found = dict(KEY.findall((STATIC / "locales" / f"{locale}.js").read_text()))
    for bundle in (STATIC / "locales").glob(f"*-{locale}.js"):
        found |= dict(KEY.findall(bundle.read_text()))
    return found


def test_every_key_used_exists_and_both_languages_match() -> None:
    en, zh = strings("en"), strings("zh-CN")
    used = set()
    for path in STATIC.rglob("*.js"):
        used |= set(re.findall(r"\bt(?:Nodes)?\('([\w.]+)'", path.read_text()))
        used |= {f"{key}.other" for key in re.findall(r"\btCount\('([\w.]+)'", path.read_text())}
    assert sorted(used - set(en)) == []
    assert sorted(set(en) - set(zh) - {k for k in en if k.endswith(".one")}) == []
    assert sorted(set(zh) - set(en)) == []
    for key, text in zh.items():
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", en[key])), key
