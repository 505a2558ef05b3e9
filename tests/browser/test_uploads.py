"""Files in the browser (issue 9), in a Chromium whose camera and microphone are fakes fed by a WAV
made here: a pasted image reaches the other reader live and opens in the lightbox; a voice message
and a video clip are recorded, sent and played by the other reader; uploads show progress, fail
clearly, are retried; the Files panel pages; hostile files are only ever download cards."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PHONE, chromium
from tests.browser.harness import Server, User
from tests.browser.ui import STORED, open_room
from tests.support import media

MAX_UPLOAD = 2 * 1024 * 1024
USERS: dict[Page, User] = {}
FAKE_MEDIA = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              "--autoplay-policy=no-user-gesture-required")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    sound = tmp_path_factory.mktemp("fake-mic") / "tone.wav"
    media.wav(sound, seconds=4.0)
    with chromium(*FAKE_MEDIA, f"--use-file-for-fake-audio-capture={sound}") as browser:
        yield browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("parley-uploads"), {"PARLEY_MAX_UPLOAD_BYTES": str(MAX_UPLOAD)}).start()
    try:
        yield server
    finally:
        server.stop()


def two_in_a_room(open_app: Any, live_server: Server, name: str) -> tuple[Page, Page, int]:
    """Ann's and Bob's pages, both showing a new room; USERS[page] is its user."""
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, name, members=(bob,))
    pages = []
    for user in (ann, bob):
        page = open_app(user)
        open_room(page, room["id"])
        pages.append(page)
        USERS[page] = user
    return pages[0], pages[1], room["id"]


def post_with(server: Server, user: User, room_id: int, uploads: list[dict[str, Any]], text: str | None = None) -> None:
    body: dict[str, Any] = {"attachments": [u["id"] for u in uploads]}
    if text:
        body["text"] = text
    server.call("POST", f"/rooms/{room_id}/messages", body, user)


def paste_files(page: Page, files: list[tuple[str, bytes, str]]) -> None:
    """A paste event carrying files, as a screenshot pasted with Ctrl+V dispatches."""
    page.locator(".composer-input").evaluate(
        """(input, files) => {
          const data = new DataTransfer();
          for (const [name, b64, type] of files) {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            data.items.add(new File([bytes], name, { type }));
          }
          input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
        }""", [[name, base64.b64encode(data).decode(), mime] for name, data, mime in files])


def send_from_composer(page: Page, count: int) -> None:
    expect(page.locator(".upload-item.done")).to_have_count(count)
    page.locator(".composer-input").press("Enter")
    expect(page.locator(".upload-item")).to_have_count(0)


def test_pasted_image_reaches_the_other_reader_live_and_opens_in_the_lightbox(open_app, live_server: Server) -> None:
    ann, bob, _ = two_in_a_room(open_app, live_server, "pictures")
    paste_files(ann, [("image.png", media.png(640, 400, text=None, colour=(30, 90, 200)), "image/png"),
                      ("image.png", media.png(300, 450, text=None, colour=(200, 60, 60)), "image/png")])
    expect(ann.locator(".upload-item .upload-name").first).to_have_text(re.compile(r"^pasted-\d{8}-\d{6}\.png$"))
    ann.locator(".composer-input").fill("two screenshots")
    send_from_composer(ann, 2)

    row = bob.locator(f"{STORED}", has_text="two screenshots")
    thumbs = row.locator(".att-image img")
    expect(thumbs).to_have_count(2)
    # The box is reserved from the stored size, scaled into 320 x 240: no jump while loading.
    assert (thumbs.nth(0).get_attribute("width"), thumbs.nth(0).get_attribute("height")) == ("320", "200")
    assert (thumbs.nth(1).get_attribute("width"), thumbs.nth(1).get_attribute("height")) == ("160", "240")
    bob.wait_for_function("(imgs) => imgs.every((img) => img.complete && img.naturalWidth > 0)",
                          arg=thumbs.element_handles())

    thumbs.nth(0).click()
    box = bob.locator("dialog.lightbox")
    expect(box).to_be_visible()
    expect(box.locator(".lightbox-pos")).to_have_text("1 of 2")
    full = box.locator(".lightbox-img")
    bob.wait_for_function("(img) => img.src.includes('/media/') && !img.src.endsWith('/thumbnail') && img.naturalWidth === 640",
                          arg=full.element_handle())
    expect(box.get_by_role("button", name="Close the image")).to_be_focused()
    bob.keyboard.press("ArrowRight")
    expect(box.locator(".lightbox-pos")).to_have_text("2 of 2")
    bob.wait_for_function("(img) => img.naturalWidth === 300", arg=full.element_handle())
    # Tab stays inside the viewer.
    for _ in range(4):
        bob.keyboard.press("Tab")
        assert bob.evaluate("() => document.activeElement.closest('dialog.lightbox') !== null")
    bob.keyboard.press("ArrowLeft")
    expect(box.locator(".lightbox-pos")).to_have_text("1 of 2")
    bob.keyboard.press("Escape")
    expect(box).to_have_count(0)
    expect(row.locator(".att-image").nth(0)).to_be_focused()


def test_voice_message_is_recorded_sent_and_played_by_the_other_reader(open_app, live_server: Server) -> None:
    ann, bob, _ = two_in_a_room(open_app, live_server, "voices")
    ann.get_by_role("button", name="Record a voice message").click()
    recorder = ann.locator("dialog.recorder-dialog")
    expect(recorder).to_be_visible()
    expect(recorder.locator(".rec-time")).to_have_text("0:02", timeout=10_000)
    recorder.get_by_role("button", name="Stop and attach").click()
    expect(recorder).to_have_count(0)
    expect(ann.locator(".upload-item .upload-name")).to_have_text(re.compile(r"^voice-.*\.(webm|ogg)$"))
    send_from_composer(ann, 1)

    player = bob.locator(f"{STORED} .att-audio")
    expect(player).to_be_visible()
    expect(player.locator(".wave-bar")).to_have_count(48)
    heights = player.locator(".wave-bar").evaluate_all("(bars) => new Set(bars.map((bar) => bar.style.height)).size")
    assert heights > 1, "the waveform is flat"
    expect(player.locator(".att-duration")).not_to_have_text("0:00")
    audio = player.locator("audio")
    player.get_by_role("button", name="Play", exact=True).click()
    bob.wait_for_function("(a) => !a.paused && a.currentTime > 0.3", arg=audio.element_handle(), timeout=10_000)
    assert audio.evaluate("(a) => a.duration") > 0
    expect(player.locator(".wave-bar.played").first).to_be_visible()
    player.get_by_role("button", name="Playback speed 1×").click()
    assert audio.evaluate("(a) => a.playbackRate") == 1.5
    player.get_by_role("button", name="Pause", exact=True).click()
    assert audio.evaluate("(a) => a.paused")
    # A click three quarters along the waveform seeks there.
    wave = player.locator(".wave")
    size = wave.bounding_box()
    assert size
    wave.click(position={"x": size["width"] * 0.75, "y": size["height"] / 2})
    position = audio.evaluate("(a) => a.currentTime")
    total = audio.evaluate("(a) => Number.isFinite(a.duration) ? a.duration : 0") or 2.0
    assert position > total * 0.5


def test_video_clip_is_recorded_sent_and_played_by_the_other_reader(open_app, live_server: Server) -> None:
    ann, bob, _ = two_in_a_room(open_app, live_server, "clips")
    ann.get_by_role("button", name="Record a video clip").click()
    recorder = ann.locator("dialog.recorder-dialog")
    ann.wait_for_function("() => document.querySelector('.rec-preview')?.videoWidth > 0")
    expect(recorder.locator(".rec-time")).to_have_text("0:02", timeout=10_000)
    recorder.get_by_role("button", name="Stop and attach").click()
    ann.locator(".composer-input").fill("a clip")
    send_from_composer(ann, 1)

    video = bob.locator(f"{STORED} video.att-video")
    expect(video).to_be_visible()
    assert video.get_attribute("poster"), "the server's poster frame"
    assert video.get_attribute("preload") == "none", "nothing is fetched before Play"
    bob.locator(f"{STORED} .att-video-wrap").get_by_role("button", name=re.compile(r"^Play video-.*\.webm$")).click()
    bob.wait_for_function("(v) => v.videoWidth > 0 && v.currentTime > 0.3", arg=video.element_handle(), timeout=10_000)
    assert video.evaluate("(v) => v.controls"), "the browser's controls come with playing"


def test_upload_errors_show_clearly_and_retry_and_cancel_work(open_app, live_server: Server) -> None:
    ann, bob, room_id = two_in_a_room(open_app, live_server, "errors")
    picker = ann.locator(".composer-tools input[type=file]")
    picker.set_input_files([{"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": b"\0" * (MAX_UPLOAD + 1)}])
    failed = ann.locator(".upload-item.failed")
    expect(failed.locator(".upload-error")).to_have_text("This file is too large (the limit is 2 MB).")
    ann.locator(".composer-input").press("Enter")
    expect(ann.locator(".upload-status")).to_have_text("Some files failed: retry or remove them to send.")
    failed.get_by_role("button", name="Remove huge.bin").click()
    expect(ann.locator(".upload-item")).to_have_count(0)

    # The first attempt breaks off; Retry sends it again.
    broken = {"left": 1}

    def break_once(route: Any) -> None:
        if broken["left"]:
            broken["left"] -= 1
            route.abort()
        else:
            route.continue_()

    ann.route(f"**/api/v1/rooms/{room_id}/uploads", break_once)
    picker.set_input_files([{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"remember the milk\n"}])
    expect(failed.locator(".upload-error")).to_have_text("Upload interrupted: check the connection and retry.")
    failed.get_by_role("button", name="Retry uploading notes.txt").click()
    send_from_composer(ann, 1)
    card = bob.locator(f"{STORED} .att-file")
    expect(card.locator(".att-name")).to_have_text("notes.txt")
    expect(card.locator(".att-size")).to_have_text("18 bytes")
    ann.unroute(f"**/api/v1/rooms/{room_id}/uploads")

    # A slow upload shows its progress and can be cancelled; nothing is sent.
    cdp = ann.context.new_cdp_session(ann)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": 100_000})
    picker.set_input_files([{"name": "slow.bin", "mimeType": "application/octet-stream", "buffer": b"\1" * 1_500_000}])
    bar = ann.locator(".upload-item.uploading progress")
    ann.wait_for_function("(bar) => bar.value > 0 && bar.value < 1", arg=bar.element_handle(), timeout=10_000)
    ann.locator(".composer-input").fill("waiting for it")
    ann.locator(".composer-input").press("Enter")
    expect(ann.locator(".upload-status")).to_have_text("Sending when the uploads finish…")
    ann.get_by_role("button", name="Cancel uploading slow.bin").click()
    expect(ann.locator(".upload-item")).to_have_count(0)
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": -1})
    # With the file gone the caption alone goes out, once.
    ann.locator(".composer-input").press("Enter")
    expect(bob.locator(f"{STORED} .msg-body", has_text="waiting for it")).to_have_count(1)
    expect(bob.locator(f"{STORED} .att-file")).to_have_count(1)


def test_the_tray_waits_in_its_room_while_another_is_open(open_app, live_server: Server) -> None:
    ann, bob, room_id = two_in_a_room(open_app, live_server, "drafts")
    other = live_server.create_room(USERS[ann], "elsewhere")
    ann.locator(".composer-tools input[type=file]").set_input_files(
        [{"name": "minutes.txt", "mimeType": "text/plain", "buffer": b"agreed\n"}])
    expect(ann.locator(".upload-item.done")).to_have_count(1)
    open_room(ann, other["id"])
    expect(ann.locator(".upload-item")).to_have_count(0)
    open_room(ann, room_id)
    expect(ann.locator(".upload-item.done .upload-name")).to_have_text("minutes.txt")
    send_from_composer(ann, 1)
    expect(bob.locator(f"{STORED} .att-file .att-name")).to_have_text("minutes.txt")


def test_files_dropped_on_the_room_join_the_tray(open_app, live_server: Server) -> None:
    ann, bob, _ = two_in_a_room(open_app, live_server, "dropbox")
    main = ann.locator(".room-main")
    data = ann.evaluate_handle("""() => {
      const data = new DataTransfer();
      data.items.add(new File(['one'], 'one.txt', { type: 'text/plain' }));
      data.items.add(new File(['two!'], 'two.txt', { type: 'text/plain' }));
      return data;
    }""")
    main.dispatch_event("dragenter", {"dataTransfer": data})
    expect(ann.locator(".drop-hint")).to_be_visible()
    expect(ann.locator(".drop-hint")).to_have_text("Drop files to send them here")
    main.dispatch_event("drop", {"dataTransfer": data})
    expect(ann.locator(".drop-hint")).to_be_hidden()
    expect(ann.locator(".upload-item.done .upload-name")).to_have_text(["one.txt", "two.txt"])
    send_from_composer(ann, 2)
    expect(bob.locator(f"{STORED} .att-file .att-name")).to_have_text(["one.txt", "two.txt"])


def test_every_kind_of_attachment_fits_a_phone_in_both_themes_and_languages(open_app, live_server: Server,
                                                                          tmp_path: Path) -> None:
    ann = live_server.register("ann", "Ann")
    room = live_server.create_room(ann, "phone")
    files = [("wide.png", media.png(2000, 500, text=None), "image/png"),
             ("a-very-long-file-name-that-goes-on-and-on-and-on-forever-2026.pdf", b"%PDF-1.4\n" * 50, "application/pdf"),
             ("voice.ogg", media.voice(tmp_path / "voice.ogg", seconds=2.0), "audio/ogg"),
             ("clip.webm", media.video(tmp_path / "clip.webm", size=(640, 360)), "video/webm")]
    post_with(live_server, ann, room["id"], [live_server.upload(ann, room["id"], *f) for f in files], "everything")
    for scheme, locale in (("light", "en-US"), ("dark", "zh-CN")):
        page = open_app(ann, viewport=PHONE, color_scheme=scheme, locale=locale)
        open_room(page, room["id"])
        row = page.locator(STORED, has_text="everything")
        expect(row.locator(".att-image, .att-file, .att-audio, .att-video")).to_have_count(4)
        overflow = page.evaluate("""() => [document.documentElement, document.querySelector('.timeline')]
            .map((el) => el.scrollWidth - el.clientWidth)""")
        assert overflow == [0, 0], f"{scheme}/{locale}: wider than the phone by {overflow}"
        for part in row.locator(".att-image, .att-file, .att-audio, .att-video-wrap").all():
            box = part.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (scheme, box)


def test_files_panel_lists_the_rooms_files_newest_first_a_page_at_a_time(open_app, live_server: Server) -> None:
    ann, bob, room_id = two_in_a_room(open_app, live_server, "archive")
    for i in range(32):  # by turns: each may upload 20 files in a burst
        sender = USERS[(ann, bob)[i % 2]]
        upload = live_server.upload(sender, room_id, f"file-{i:02}.txt", f"content {i}\n".encode(), "text/plain")
        post_with(live_server, sender, room_id, [upload])
    expect(bob.locator(f"{STORED} .att-file")).to_have_count(32)
    bob.get_by_role("button", name="Show files").click()
    panel = bob.locator(".files-panel")
    names = panel.locator(".files-name")
    expect(names).to_have_count(30)
    expect(names.first).to_have_text("file-31.txt")
    panel.get_by_role("button", name="Show older files").click()
    expect(names).to_have_count(32)
    expect(names.last).to_have_text("file-00.txt")
    expect(panel.get_by_role("button", name="Show older files")).to_be_hidden()
    # A file sent while the panel is open joins the top.
    post_with(live_server, USERS[ann], room_id, [live_server.upload(USERS[ann], room_id, "latest.txt", b"new\n", "text/plain")])
    expect(names.first).to_have_text("latest.txt")
    panel.get_by_role("button", name="Close the file list").click()
    expect(panel).to_have_count(0)
    expect(bob.get_by_role("button", name="Show files")).to_be_focused()


def test_hostile_uploads_show_as_download_cards_never_inline(open_app, live_server: Server) -> None:
    """The timeline side; opening their URLs is tests/browser/test_hostile_files.py."""
    ann, bob, room_id = two_in_a_room(open_app, live_server, "hostile")
    hostile = {
        "page.html": (media.HTML, "text/html"),
        "logo.svg": (media.SVG, "image/svg+xml"),
        "photo.jpg": (media.jpeg_html_polyglot(), "image/jpeg"),
        "image.png": (media.HTML, "image/png"),  # a wrong extension and type: HTML inside
    }
    uploads = [live_server.upload(USERS[ann], room_id, name, data, mime) for name, (data, mime) in hostile.items()]
    post_with(live_server, USERS[ann], room_id, uploads, "careful")
    row = bob.locator(STORED, has_text="careful")
    expect(row.locator(".att-file .att-name")).to_have_text(["page.html", "logo.svg", "image.png"])
    expect(row.locator(".att-image")).to_have_count(1)  # the real JPEG only, as its thumbnail
    assert row.locator("iframe, object, embed, svg image, img[src$='.svg'], img[src$='.html']").count() == 0
    for card in row.locator(".att-file a").all():
        assert card.get_attribute("download"), "a card only ever downloads"
    assert bob.title() != "pwned" and not bob.evaluate("() => window.pwned")
