"""Hostile uploads opened in a real Chromium by a member of the room (cookie session): HTML, SVG
with a script, a JPEG/HTML polyglot, a file named like a picture. Each is downloaded or shown as a
picture under a sandbox; no script in any of them runs."""

from __future__ import annotations

from playwright.sync_api import Error as PlaywrightError

from tests.browser.harness import Server
from tests.support import media

FILES = {
    "page.html": (media.HTML, "text/html"),
    "logo.svg": (media.SVG, "image/svg+xml"),
    "cat.jpg": (media.jpeg_html_polyglot(), "image/jpeg"),
    "photo.png": (media.HTML, "image/png"),  # HTML that claims to be a picture
}


def test_opening_hostile_files_runs_no_script(open_app, live_server: Server) -> None:
    ann = live_server.register("ann")
    room = live_server.create_room(ann, "hostile files", visibility="private")
    page = open_app(ann, path=None)
    context = page.context
    urls = []
    for name, (data, claimed) in FILES.items():
        answer = context.request.post(f"/api/v1/rooms/{room['id']}/uploads", headers={"X-Requested-With": "parley"},
                                      multipart={"file": {"name": name, "mimeType": claimed, "buffer": data}})
        assert answer.status == 201, answer.text()
        upload = answer.json()["upload"]
        sent = context.request.post(f"/api/v1/rooms/{room['id']}/messages", headers={"X-Requested-With": "parley"},
                                    data={"attachments": [upload["id"]]})
        assert sent.status == 201, sent.text()
        urls.append((name, upload["url"]))
    downloaded = []
    for name, url in urls:
        try:
            page.goto(url)
        except PlaywrightError as exc:  # served as an attachment: the browser downloads, renders nothing
            assert "Download is starting" in str(exc), exc
            downloaded.append(name)
            continue
        assert page.evaluate("() => window.pwned") is None, name
        assert page.title() != "pwned", name
    assert sorted(downloaded) == ["logo.svg", "page.html", "photo.png"]
