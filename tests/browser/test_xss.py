"""Hostile text in messages, topics, room names and display names stays text: nothing it holds runs,
and no element or attribute it spells out reaches the DOM. The browser context bypasses the CSP
here, so the client's own rendering is what is tested, not the server's safety net."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.harness import Server
from tests.browser.ui import STORED, open_room, send

MESSAGES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "<svg onload=alert(3)>",
    "<svg><script>alert(4)</script></svg>",
    '<iframe src="javascript:alert(5)"></iframe>',
    '<a href="javascript:alert(6)">click</a>',
    "[click](javascript:alert(7))",
    "[click](JaVaScRiPt:alert(8))",
    "[click]( javascript:alert(9) )",
    "[click](javascript&#58;alert(10))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxMSk8L3NjcmlwdD4=) alert(11)",
    "[click](vbscript:msgbox(12)) alert(12)",
    '[x](https://example.com" onmouseover="alert(13))',
    "[<img src=x onerror=alert(14)>](https://example.com)",
    "**<img src=x onerror=alert(15)>**",
    "`<script>alert(16)</script>`",
    "```\n<script>alert(17)</script>\n```",
    "<body onload=alert(18)>",
    "<details open ontoggle=alert(19)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(20)>",
    '"><script>alert(21)</script>',
    "'><img src=x onerror=alert(22)>",
    "javascript:alert(23)",
    "https://example.com/<script>alert(24)</script>",
    'https://example.com/"onmouseover="alert(25)',
    "<input autofocus onfocus=alert(26)>",
    "<video><source onerror=alert(27)></video>",
    '<object data="javascript:alert(28)">',
    '<embed src="javascript:alert(29)">',
    "<style>@import 'javascript:alert(30)';</style>",
    "<marquee onstart=alert(31)>",
    "[a](javascript:alert(32))[b](https://example.com)",
    "![img](javascript:alert(33))",
    '<a href="&#106;avascript:alert(34)">x</a>',
    "{{constructor.constructor('alert(35)')()}}",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(36)">',
    '<form action="javascript:alert(37)"><button>go</button></form>',
    "[click](<javascript:alert(38)>)",
    "*[x](javascript:alert(39))*",
    "<a href='https://example.com' onclick='alert(40)'>**b**</a>",
    # Markdown blocks (issue 10): quotes, lists and headings hold the same inline rules.
    "> <img src=x onerror=alert(41)>\n> > [q](javascript:alert(41))",
    "- <script>alert(42)</script>\n- [x](javascript:alert(42))",
    "1. <svg onload=alert(43)>\n2. **<b>alert(43)</b>**",
    "# <iframe src=javascript:alert(44)>",
    "> - # `<img src=x onerror=alert(45)>`",
]
DISPLAY_NAMES = [
    "<img src=x onerror=alert(101)>",
    "<script>alert(102)</script>",
    "<svg/onload=alert(103)>",
    '"><b onmouseover=alert(104)>x',
    "[me](javascript:alert(105))",
]
ROOMS = [
    ("<img src=x onerror=alert(201)>", "<script>alert(301)</script>"),
    ("<svg onload=alert(202)>", "[topic](javascript:alert(302))"),
    ("**<b>alert(203)</b>**", '<iframe srcdoc="<script>alert(303)</script>">'),
]
ALLOWED_IN_MESSAGES = {"P", "STRONG", "EM", "S", "CODE", "PRE", "A", "SPAN", "BLOCKQUOTE", "UL", "OL", "LI"}

DOM_CHECK = """(allowed) => {
  const problems = [];
  for (const el of document.querySelectorAll('body *')) {
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) problems.push(`handler ${attr.name} on ${el.tagName}`);
    }
  }
  for (const el of document.querySelectorAll('[data-user]')) {
    const inside = [...el.querySelectorAll('*')];
    const okTags = el.classList.contains('msg-body') ? allowed : [];
    for (const child of inside) if (!okTags.includes(child.tagName)) problems.push(`element ${child.tagName} from user text`);
  }
  for (const a of document.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href');
    if (!/^(https?:|mailto:|#\\/)/.test(href)) problems.push(`link ${href}`);
    if (/^https?:/.test(href) && (a.target !== '_blank' || a.rel !== 'noopener noreferrer nofollow')) problems.push(`unsafe link ${href}`);
  }
  for (const el of document.querySelectorAll('script')) if (!el.src.endsWith('/static/app.js')) problems.push('script element');
  if (window.__xss) problems.push('window.__xss set');
  return problems;
}"""


def assert_inert(page: Page, dialogs: list[str]) -> None:
    assert page.evaluate(DOM_CHECK, sorted(ALLOWED_IN_MESSAGES)) == []
    assert dialogs == []


def test_hostile_text_is_shown_as_text_and_never_runs(open_app, live_server: Server) -> None:
    victim = live_server.register("victim", "Victim")
    attackers = [live_server.register("evil", name) for name in DISPLAY_NAMES]
    rooms = [live_server.create_room(attackers[0], name, topic, members=(victim, *attackers[1:]))
             for name, topic in ROOMS]
    target = rooms[0]["id"]
    live_server.call("PATCH", f"/rooms/{target}", {"topic": ROOMS[1][1]}, attackers[0])
    # Public room names are unique (ignoring case): the renamed room takes a name of its own.
    live_server.call("PATCH", f"/rooms/{target}", {"name": f"{ROOMS[2][0]} 2"}, attackers[0])
    live_server.call("PATCH", f"/rooms/{target}", {"topic": ROOMS[0][1]}, attackers[0])
    live_server.post_many(attackers[0], target, MESSAGES)
    live_server.call("POST", "/direct", {"usernames": [victim.username]}, attackers[1])

    page = open_app(victim, bypass_csp=True)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    attacker_page = open_app(attackers[2], bypass_csp=True)
    attacker_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    open_room(page, target)
    bodies = page.locator(f"{STORED} .msg-body")
    expect(bodies).to_have_count(len(MESSAGES))
    texts = bodies.all_inner_texts()
    for i, payload in enumerate(MESSAGES, start=1):
        assert any(f"alert({i})" in text or f"msgbox({i})" in text for text in texts), payload
    assert texts[0] == MESSAGES[0] and texts[1] == MESSAGES[1]
    expect(page.locator(".room-topic")).to_contain_text(ROOMS[0][1])
    expect(page.locator(".member-name", has_text=DISPLAY_NAMES[0])).to_be_visible()
    expect(page.locator("li.sys", has_text=ROOMS[2][0])).to_be_visible()
    page.locator(f"{STORED} a").first.hover()

    open_room(attacker_page, target)
    attacker_page.locator(".composer-input").press_sequentially("hi")
    expect(page.locator(".typing")).to_contain_text(DISPLAY_NAMES[2])
    send(attacker_page, "<img src=x onerror=alert(141)>")
    expect(page.locator(f"{STORED} .msg-body").last).to_have_text("<img src=x onerror=alert(141)>")
    assert_inert(page, dialogs)

    # Issue 10: hostile names in the profile card, the member list's avatars and completion.
    page.locator(f'.member[data-user-id="{attackers[0].id}"] .member-btn').click()
    card = page.get_by_role("dialog", name=DISPLAY_NAMES[0])
    expect(card).to_contain_text(f"@{attackers[0].username}")
    assert_inert(page, dialogs)
    page.keyboard.press("Escape")
    page.locator(".composer-input").press_sequentially("@evil")
    expect(page.get_by_role("listbox", name="Suggestions").get_by_role("option")).to_have_count(len(DISPLAY_NAMES))
    assert_inert(page, dialogs)
    page.locator(".composer-input").press("Escape")
    page.locator(".composer-input").fill("")

    expect(page.locator(".sidebar li[data-room-id]", has_text=DISPLAY_NAMES[1])).to_be_visible()
    page.locator(".sidebar li[data-room-id]", has_text=DISPLAY_NAMES[1]).locator("a").click()
    expect(page.locator(".room-title")).to_have_text(f"{DISPLAY_NAMES[1]} @{attackers[1].username}")
    assert_inert(page, dialogs)

    page.goto("/#/browse")
    renamed = [f"{ROOMS[2][0]} 2", ROOMS[1][0], ROOMS[2][0]]  # the first room was renamed above (public names are unique)
    for room, name, (_, topic) in zip(rooms, renamed, ROOMS, strict=True):
        card = page.locator(f'.browse-card[data-room-id="{room["id"]}"]')
        expect(card.locator("h3")).to_have_text(f"#{name}")
        expect(card).to_contain_text(topic)
    assert_inert(page, dialogs)

    page.get_by_role("button", name="New direct chat").first.click()
    page.get_by_role("dialog").get_by_label("Find people").fill("evil")
    expect(page.locator(".user-option")).to_have_count(len(DISPLAY_NAMES))
    expect(page.locator(".user-option", has_text=DISPLAY_NAMES[0])).to_be_visible()
    page.locator(".user-option").first.click()
    assert_inert(page, dialogs)
