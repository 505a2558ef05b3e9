"""Customer service in Chromium (issue 12): a page of another origin (a second local server, with a
strict CSP of its own) embeds the widget; the knowledge base answers one question; another it
cannot answer goes to an agent, who takes it in another browser context and replies, and the
visitor sees the reply live; a visitor's session reads no other conversation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from tests.browser.conftest import PHONE
from tests.browser.harness import Server
from tests.browser.ui import expect_message, send
from tests.support.server import free_port

SITE_PORT = free_port()
SITE = f"http://127.0.0.1:{SITE_PORT}"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("parley-support"), env={"PARLEY_SUPPORT_ORIGINS": SITE}).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def site(live_server: Server) -> Iterator[dict[str, int]]:
    """The shop's website on its own origin: one page embedding the widget of `rooms["desk"]`, under
    a CSP that allows Parley only as a script and a frame."""
    rooms: dict[str, int] = {}
    parley = live_server.url

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = (f"<!doctype html><html><head><title>Shop</title></head><body><h1>The shop</h1>"
                    f'<script src="{parley}/widget.js" data-parley-support="{rooms["desk"]}" async></script>'
                    "</body></html>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", f"default-src 'self'; script-src {parley}; "
                                                        f"frame-src {parley}; style-src 'none'")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", SITE_PORT), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield rooms
    finally:
        httpd.shutdown()
        httpd.server_close()


def make_desk(server: Server, rooms: dict[str, int]) -> tuple:
    admin, agent = server.register("owner", "Olga"), server.register("agent", "Ada")
    desk = server.create_room(admin, "helpdesk", visibility="private", members=(agent,))
    server.call("POST", f"/rooms/{desk['id']}/support", {}, admin)
    server.call("POST", f"/rooms/{desk['id']}/support/entries", {
        "title": "How long does delivery take?", "answer": "Parcels arrive in 2 to 4 working days.",
        "tags": "shipping"}, admin)
    rooms["desk"] = desk["id"]
    return admin, agent, desk["id"]


def open_widget(page: Page) -> FrameLocator:
    page.goto(f"{SITE}/")
    widget = page.frame_locator("iframe[data-parley-widget]")
    widget.locator("button.launcher").click()
    expect(widget.locator(".panel")).to_be_visible()
    return widget


def ask(widget: FrameLocator, text: str) -> None:
    widget.locator("textarea").fill(text)
    widget.locator("button.send").click()


def test_the_widget_answers_from_the_knowledge_base_then_an_agent_takes_over(open_app, live_server, site):
    _admin, agent, desk = make_desk(live_server, site)
    csp_errors: list[str] = []
    visitor = open_app(path=None)
    visitor.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    widget = open_widget(visitor)
    ask(widget, "how long does delivery take")
    expect(widget.locator("li.theirs .text", has_text="Parcels arrive in 2 to 4 working days.")).to_be_visible()
    expect(widget.locator("li.theirs .text", has_text="How long does delivery take?")).to_be_visible()  # cited

    ask(widget, "Can I pay with a cheque?")
    expect(widget.locator("li.theirs .text", has_text="A person from our team")).to_be_visible()
    expect(widget.locator(".status")).to_contain_text("A person from our team will join shortly.")

    # The agent, in a browser context of their own, sees it waiting, takes it, and replies.
    staff = open_app(agent, path=None)
    staff.goto(f"/support/desk/{desk}")
    item = staff.locator(".support-item", has_text="Can I pay with a cheque?")
    expect(item).to_contain_text("waiting for a person")
    item_room = live_server.call("GET", f"/rooms/{desk}/support/conversations", None, agent)["conversations"][0]["room"]
    item.locator("button", has_text="Take").click()
    expect(staff.locator(f'.room[data-room-id="{item_room}"] .timeline')).to_be_visible()
    expect_message(staff, "Can I pay with a cheque?")  # the transcript
    send(staff, "Yes, cheques are fine. I am Ada.")
    expect(widget.locator("li.theirs .text", has_text="Yes, cheques are fine. I am Ada.")).to_be_visible()
    expect(widget.locator(".status")).to_contain_text("Ada is answering you.")
    assert csp_errors == []

    # The visitor's session reads its own conversation and nothing else, not even another visitor's.
    other = open_app(path=None)
    other_widget = open_widget(other)
    ask(other_widget, "a private question of the second visitor")
    expect(other_widget.locator("li.mine .text", has_text="second visitor")).to_be_visible()
    other_frame = next(f for f in other.frames if f.url.startswith(live_server.url))
    theirs = other_frame.evaluate("async () => (await (await fetch('/api/v1/support/me', {headers: {Authorization: "
                                  "'Bearer ' + localStorage.getItem('parley.support." + str(desk) + "')}})).json())")
    frame = next(f for f in visitor.frames if f.url.startswith(live_server.url))
    statuses = frame.evaluate("""async ([room, desk, other]) => {
      const token = localStorage.getItem('parley.support.' + desk);
      const get = async (path) => (await fetch(path, {headers: {Authorization: 'Bearer ' + token}})).status;
      return [await get(`/api/v1/rooms/${other}/messages`), await get(`/api/v1/rooms/${desk}/support/conversations`),
              await get(`/api/v1/rooms/${desk}`), await get('/api/v1/rooms'), await get('/api/v1/support/me')];
    }""", [0, desk, theirs["conversation"]["room"]])
    assert statuses == [404, 404, 404, 404, 200]


def test_the_widget_on_a_phone_in_the_dark_in_chinese(open_app, live_server, site):
    _admin, _agent, _desk = make_desk(live_server, site)
    visitor = open_app(path=None, viewport=PHONE, color_scheme="dark", locale="zh-CN")
    widget = open_widget(visitor)
    expect(widget.locator(".panel header strong")).to_have_text("客服")
    expect(widget.locator("button.human")).to_have_text("转人工")
    box = visitor.locator("iframe[data-parley-widget]").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"] and box["height"] <= PHONE["height"]
    background = widget.locator(".panel").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(22, 24, 31)"  # the dark theme
    widget.locator("button.human").click()
    expect(widget.locator(".status")).to_contain_text("工作人员很快会加入")
