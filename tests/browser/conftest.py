"""Fixtures for the browser tests: one real server per module, one headless Chromium per session,
and pages signed in as a given user (each in its own browser context, so its own cookies)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Server, User

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
TIMEOUT_MS = 15_000


@contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    """A headless /usr/bin/chromium, with `extra_args` (fake camera and microphone, say)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test-deps.sh", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module: Playwright's sync API keeps an event loop running in this
    thread while it is open, which must not outlive the browser tests (asyncio tests follow)."""
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("parley-browser")).start()
    try:
        yield server
    finally:
        server.stop()


def sign_in(context: BrowserContext, user: User) -> None:
    """Logs in over the context's own request client, which shares the browser's cookie jar."""
    answer = context.request.post("/api/v1/auth/login", data={"username": user.username, "password": PASSWORD},
                                  headers={"X-Requested-With": "parley"})
    assert answer.ok, answer.text()


def wait_connected(page: Page) -> None:
    page.locator('.conn[data-state="connected"]').wait_for()


OpenApp = Callable[..., Page]


@pytest.fixture
def open_app(browser: Browser, live_server: Server) -> Iterator[OpenApp]:
    """open_app(user=None, viewport=DESKTOP, locale="en-US", color_scheme="light", path="/", **options) -> Page.

    With a user, the page is signed in and connected (path=None: not opened yet); other options go
    to the browser context.
    Uncaught page errors fail the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_page(user: User | None = None, *, viewport: dict[str, int] = DESKTOP, locale: str = "en-US",
                  color_scheme: str = "light", path: str | None = "/", **options: object) -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=viewport, locale=locale,
                                      color_scheme=color_scheme, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        if user:
            sign_in(context, user)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        if path is None:
            return page
        page.goto(path)
        if user:
            wait_connected(page)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
