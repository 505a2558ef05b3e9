#!/usr/bin/env python3
"""Screenshots of the web client's main screens, desktop and phone, light and dark, English and 简体中文.

Starts its own `parley serve` on a temporary database, fills it with a small conversation, and
saves PNGs under docs/screenshots/ (or --out). Needs the venv (`make venv`) and /usr/bin/chromium.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Server, User  # noqa: E402
from tests.support import media  # noqa: E402
from tests.support.client import ApiError  # noqa: E402

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
POSTER: User | None = None  # someone who writes to "design" so that Ann has unread messages there
PEOPLE: dict[str, User] = {}  # everyone seeded, by name (the admin screens act as some of them)
CONVERSATION = [
    ("bob", "Morning all! The **staging deploy** is green again."),
    ("bob", "Release notes are here: https://example.com/releases/0.4"),
    ("chen", "Nice. Did the migration run cleanly this time?"),
    ("bob", "It did. For the record, this is what I ran:\n```\nparley db upgrade\nparley serve --port 8000\n```"),
    ("ann", "Thanks @bob, that saves me an hour. I'll _update the docs_ after lunch."),
    ("chen", "@ann could you also mention the new `PARLEY_WS_MAX_QUEUE_BYTES` setting?"),
    ("ann", "Will do!"),
    ("bob", "Plan for Friday:\n1. freeze `main`\n2. tag the release\n3. announce it\n> Ship small, ship often."),
]


def seed(server: Server) -> tuple[User, dict[str, int]]:
    people = {
        "ann": server.register("ann", "Ann Lee", unique=False),
        "bob": server.register("bob", "Bob Martin", unique=False),
        "chen": server.register("chen", "Chen Jing", unique=False),
        "dana": server.register("dana", "Dana Cruz", unique=False),
    }
    ann, bob, chen, dana = people.values()
    PEOPLE.update(people)
    general = server.create_room(ann, "general", "Company-wide chatter", members=(bob, chen, dana))
    server.call("PATCH", f"/rooms/{general['id']}", {"topic": "Company-wide chatter · be kind"}, ann)
    posted = [server.post(people[who], general["id"], text) for who, text in CONVERSATION]
    seed_actions(server, people, general["id"], [event["seq"] for event in posted])
    design = server.create_room(bob, "design", "Mock-ups and reviews", members=(ann, chen))
    server.post(chen, design["id"], "New icons are in the shared folder.")
    server.post(bob, design["id"], "@ann can you take a look before Friday?")
    server.create_room(dana, "random", "Anything goes", members=(ann,))
    server.create_room(chen, "book-club", "This month: Dune")
    server.create_room(dana, "release-train", "Weekly release coordination")
    direct = server.call("POST", "/direct", {"usernames": [ann.username]}, bob)
    server.post(bob, direct["id"], "Lunch at 12:30?")
    files = server.create_room(bob, "field-trip", "Photos, voice notes and plans", members=(ann, chen, dana))
    seed_files(server, files["id"], people)
    global POSTER
    POSTER = chen
    PEOPLE.update(people)
    return ann, {"general": general["id"], "design": design["id"], "files": files["id"]}


def landscape(width: int = 1200, height: int = 800) -> bytes:
    """A made-up photo: sky, sun, two hills (Pillow)."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (width, height), (120, 170, 230))
    draw = ImageDraw.Draw(picture)
    for y in range(height // 2):
        draw.line([(0, y), (width, y)], fill=(120 + y * 80 // height, 170 + y * 60 // height, 235))
    draw.ellipse([width * 0.7, height * 0.12, width * 0.82, height * 0.3], fill=(255, 214, 102))
    draw.ellipse([-width * 0.3, height * 0.45, width * 0.7, height * 1.6], fill=(76, 140, 74))
    draw.ellipse([width * 0.35, height * 0.55, width * 1.4, height * 1.7], fill=(52, 110, 60))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


def seed_files(server: Server, room_id: int, people: dict[str, User]) -> None:
    """A photo with a caption, a voice message, a video clip and a PDF: every kind of attachment."""
    def send(who: str, text: str | None, *files: tuple[str, bytes, str]) -> None:
        ids = [server.upload(people[who], room_id, name, data, kind)["id"] for name, data, kind in files]
        server.call("POST", f"/rooms/{room_id}/messages", {"attachments": ids, **({"text": text} if text else {})},
                    people[who])

    with tempfile.TemporaryDirectory() as tmp:
        voice = media.voice(Path(tmp) / "voice.ogg", seconds=6.0)
        clip = media.video(Path(tmp) / "clip.webm", frames=36, size=(320, 240))
    send("bob", "View from the ridge this morning 🏔", ("ridge.jpg", landscape(), "image/jpeg"),
         ("valley.jpg", landscape(600, 900), "image/jpeg"))
    send("chen", None, ("voice-20261203-0912.ogg", voice, "audio/ogg"))
    send("dana", "The trail map, and a quick clip of the path", ("trail-map-v3.pdf", b"%PDF-1.4\n% map\n" * 4000,
         "application/pdf"), ("path.webm", clip, "video/webm"))
    server.post(people["ann"], room_id, "Looks amazing! Saving the map.")


# -- message actions (issue 10): reactions, an edit, a reply, a thread and a pin on the conversation --


def seed_actions(server: Server, people: dict[str, User], room_id: int, seqs: list[int]) -> None:
    ann, bob, chen = people["ann"], people["bob"], people["chen"]
    base = f"/rooms/{room_id}/messages"
    server.call("PATCH", f"/rooms/{room_id}/members/{bob.id}", {"role": "moderator"}, ann)
    for who, emoji in ((ann, "🎉"), (chen, "🎉"), (chen, "👍")):
        server.call("PUT", f"{base}/{seqs[0]}/reactions/{quote(emoji)}", user=who)
    server.call("PATCH", f"{base}/{seqs[2]}", {"text": "Nice. Did the migration run cleanly this time? (on staging)"}, chen)
    server.call("POST", base, {"text": "Yes, and it took under a minute.", "reply_to": seqs[2]}, bob)
    for who, text in ((ann, "Should we schedule the production run for Thursday?"), (chen, "Thursday works for me."),
                      (bob, "Thursday it is; I'll post the checklist here.")):
        server.call("POST", base, {"text": text, "thread_root": seqs[1]}, who)
    server.call("PUT", f"/rooms/{room_id}/pins/{seqs[1]}", user=ann)


def shoot_actions(page: Page, size: str, scheme: str, save: Callable[[Page, str], None]) -> None:
    """The toolbar (desktop) or the long-press sheet (phone), the thread panel and the pinned list."""
    first = page.locator("li.msg[data-seq]").first
    if size == "desktop":
        first.hover()
        page.locator(".msg-tools").first.wait_for()
        save(page, f"desktop-{scheme}-actions")
        page.mouse.move(1, 1)
    else:
        first.dispatch_event("contextmenu")
        page.locator("dialog.sheet").wait_for()
        page.wait_for_timeout(200)
        save(page, f"phone-{scheme}-actions")
        page.keyboard.press("Escape")
    page.locator(".thread-summary").first.click()
    page.locator(".thread-panel li.msg").nth(3).wait_for()
    page.wait_for_timeout(200)
    save(page, f"{size}-{scheme}-thread")
    page.locator(".thread-close").click()
    page.locator(".pins-btn").click()
    page.locator(".pin-item").first.wait_for()
    save(page, f"{size}-{scheme}-pins")
    page.keyboard.press("Escape")
    opened = page.locator(".members .member-list").count() == 0  # the member panel, with "Add bot"
    if opened:
        page.locator("[aria-controls^='member-panel-']").first.click()
    page.locator(".members .member-list li").first.wait_for()
    save(page, f"{size}-{scheme}-members")
    if opened:
        page.locator(".close-members").click()


def new_page(browser: Browser, server: Server, viewport: dict[str, int], scheme: str, user: User | None,
             locale: str = "en-US") -> Page:
    context = browser.new_context(base_url=server.url, viewport=viewport, color_scheme=scheme, locale=locale,
                                  device_scale_factor=1)
    if user:
        context.request.post("/api/v1/auth/login", data={"username": user.username, "password": PASSWORD},
                             headers={"X-Requested-With": "parley"})
    return context.new_page()


def settle(page: Page) -> None:
    page.locator('.conn[data-state="connected"]').wait_for()
    page.evaluate("document.fonts.ready")
    page.wait_for_timeout(300)


def shoot(browser: Browser, server: Server, ann: User, rooms: dict[str, int], out: Path) -> list[Path]:
    saved: list[Path] = []

    def save(page: Page, name: str) -> None:
        path = out / f"{name}.png"
        page.screenshot(path=str(path))
        saved.append(path)

    for scheme in ("light", "dark"):
        page = new_page(browser, server, DESKTOP, scheme, None)
        page.goto("/")
        page.locator(".auth-form").wait_for()
        save(page, f"desktop-{scheme}-login")
        page.context.close()

        page = new_page(browser, server, DESKTOP, scheme, ann)
        page.goto(f"/#/room/{rooms['general']}")
        settle(page)
        page.locator(".member").first.wait_for()
        save(page, f"desktop-{scheme}-room")
        shoot_actions(page, "desktop", scheme, save)
        page.goto("/#/browse")
        page.locator(".browse-card").first.wait_for()
        save(page, f"desktop-{scheme}-browse")
        page.context.close()

        # Issue 10: unread divider, emoji picker, completion, profile card, settings, quick switcher.
        if POSTER:
            server.post(POSTER, rooms["design"], "Here is the **dark** variant too." if scheme == "dark" else "And the light one.")
        page = new_page(browser, server, DESKTOP, scheme, ann)
        page.goto(f"/#/room/{rooms['design']}")
        settle(page)
        page.locator(".new-divider").wait_for()
        save(page, f"desktop-{scheme}-unread")
        page.goto(f"/#/room/{rooms['general']}")
        page.locator(".composer-input").wait_for()
        page.get_by_role("button", name="Insert emoji").click()
        page.locator(".emoji-cell").first.wait_for()
        page.locator(".emoji-cell").nth(3).hover()
        page.wait_for_timeout(300)
        save(page, f"desktop-{scheme}-emoji")
        page.keyboard.press("Escape")
        page.locator(".composer-input").press_sequentially("Thanks @b")
        page.locator(".completion").first.wait_for()
        save(page, f"desktop-{scheme}-mention")
        page.locator(".composer-input").fill("")
        page.locator(".msg-avatar").first.click()
        page.locator(".card").wait_for()
        page.wait_for_timeout(200)
        save(page, f"desktop-{scheme}-card")
        page.keyboard.press("Escape")
        page.keyboard.press("Control+k")
        page.locator(".switcher-input").fill("e")
        page.wait_for_timeout(300)
        save(page, f"desktop-{scheme}-switcher")
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Your profile").click()
        page.get_by_role("dialog", name="Settings").wait_for()
        save(page, f"desktop-{scheme}-settings")
        page.context.close()

        page = new_page(browser, server, PHONE, scheme, ann)
        page.goto("/")
        settle(page)
        save(page, f"phone-{scheme}-sidebar")
        page.goto(f"/#/room/{rooms['general']}")
        page.locator(".msg").first.wait_for()
        page.wait_for_timeout(300)
        save(page, f"phone-{scheme}-room")
        shoot_actions(page, "phone", scheme, save)
        page.context.close()

        for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
            page = new_page(browser, server, viewport, scheme, ann, locale="zh-CN")
            page.goto(f"/#/room/{rooms['general']}")
            page.locator(".msg").first.wait_for()
            page.evaluate("document.fonts.ready")
            page.wait_for_timeout(300)
            save(page, f"{size}-{scheme}-room-zh")
            shoot_actions(page, size, f"{scheme}-zh", save)
            page.get_by_role("button", name="插入表情").click()
            page.locator(".emoji-search").fill("猫")
            page.locator(".emoji-cell").first.wait_for()
            page.wait_for_timeout(300)
            save(page, f"{size}-{scheme}-emoji-zh")
            page.keyboard.press("Escape")
            if size == "phone":
                page.goto("/")
                page.locator(".sidebar").wait_for()
            page.get_by_role("button", name="个人资料").click()
            page.get_by_role("dialog", name="设置").wait_for()
            page.wait_for_timeout(200)
            save(page, f"{size}-{scheme}-settings-zh")
            page.context.close()
    return saved


def shoot_uploads(browser: Browser, server: Server, ann: User, rooms: dict[str, int], out: Path) -> list[Path]:
    """The files room in every size, theme and language, plus the lightbox, tray, recorder and Files panel."""
    saved: list[Path] = []
    room = f"/#/room/{rooms['files']}"

    def save(page: Page, name: str) -> None:
        path = out / f"{name}.png"
        page.screenshot(path=str(path))
        saved.append(path)

    def open_files_room(viewport: dict[str, int], scheme: str, locale: str) -> Page:
        page = new_page(browser, server, viewport, scheme, ann, locale=locale)
        page.goto(room)
        page.locator(".att-audio").wait_for()
        page.wait_for_function("() => [...document.querySelectorAll('.att-image img')].every((i) => i.complete)")
        page.evaluate("document.fonts.ready")
        page.wait_for_timeout(1500)  # the video's loading spinner has gone
        return page

    for scheme in ("light", "dark"):
        for locale, suffix in (("en-US", ""), ("zh-CN", "-zh")):
            for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
                page = open_files_room(viewport, scheme, locale)
                save(page, f"{size}-{scheme}-files{suffix}")
                if not suffix:
                    page.locator(".att-image").first.click()
                    page.locator(".lightbox-img").wait_for()
                    page.wait_for_timeout(500)
                    save(page, f"{size}-{scheme}-lightbox")
                    page.keyboard.press("Escape")
                    if page.locator(".jump").is_visible():  # opening the first picture scrolled up to it
                        page.locator(".jump").click()
                        page.wait_for_timeout(1500)
                    page.locator(".composer-tools input[type=file]").set_input_files(
                        [{"name": "packing-list.txt", "mimeType": "text/plain", "buffer": b"tent\nboots\n"},
                         {"name": "sunset.jpg", "mimeType": "image/jpeg", "buffer": landscape(400, 300)}])
                    page.locator(".upload-item.done").nth(1).wait_for()
                    page.locator(".composer-input").fill("Two more for the trip")
                    save(page, f"{size}-{scheme}-tray")
                    page.get_by_role("button", name="Show files").click()
                    page.locator(".files-item").first.wait_for()
                    page.wait_for_timeout(300)
                    save(page, f"{size}-{scheme}-files-panel")
                page.context.close()
    page = open_files_room(PHONE, "light", "en-US")
    page.get_by_role("button", name="Record a video clip").click()
    page.locator(".rec-time", has_text="0:01").wait_for()
    save(page, "phone-light-recorder")
    page.context.close()
    return saved


# -- moderation (issue 11): the Moderation panel, room settings, the report dialog, a banned member's view --


def seed_moderation(server: Server) -> tuple[dict[str, User], int]:
    """A room with a moderator, two reports of a spam message and one of a rude one, a ban, slow mode."""
    people = {**PEOPLE, **{name: server.register(name, display, unique=False)
                           for name, display in (("eve", "Eve Park"), ("finn", "Finn Okafor"))}}
    ann, bob, chen, dana, eve, finn = people.values()
    room = server.create_room(ann, "neighbours", "Help desk for the building · be kind", members=(bob, chen, dana, eve, finn))
    room_id = room["id"]
    server.call("PATCH", f"/rooms/{room_id}/members/{bob.id}", {"role": "moderator"}, ann)
    server.post(chen, room_id, "Does anyone have a ladder I could borrow on Saturday?")
    server.post(dana, room_id, "I do! Flat 4B, knock any time after 10.")
    spam = server.post(finn, room_id, "🔥 EARN $$$ FROM HOME!!! Click https://example.com/win before it is gone 🔥")
    rude = server.post(eve, room_id, "Nobody asked you, Dana. Keep your ladder.")
    server.post(chen, room_id, "Thanks Dana, see you Saturday 🙂")
    base = f"/rooms/{room_id}/messages"
    server.call("POST", f"{base}/{spam['seq']}/report", {"reason": "spam", "note": "Same link in three rooms today"}, chen)
    server.call("POST", f"{base}/{spam['seq']}/report", {"reason": "spam"}, dana)
    server.call("POST", f"{base}/{rude['seq']}/report", {"reason": "abuse", "note": "Second time this week"}, dana)
    for path, body in ((f"/rooms/{room_id}", {"slow_mode_s": 30}),
                       (f"/rooms/{room_id}/bans", {"user_id": finn.id, "reason": "Spam links", "duration_s": 7 * 86_400})):
        try:
            server.call("PATCH" if "bans" not in path else "POST", path, body, ann)
        except Exception as error:  # the moderation endpoints come with branch i11-mod
            print(f"skipped {path}: {error}", file=sys.stderr)
    return people, room_id


def settle_room(page: Page) -> None:
    """A room opened straight from its link (on a phone the sidebar, and its connection state, is hidden)."""
    page.locator('.conn[data-state="connected"]').wait_for(state="attached")
    page.locator("li.msg").first.wait_for()
    page.evaluate("document.fonts.ready")
    page.wait_for_timeout(300)


def shoot_moderation(browser: Browser, server: Server, out: Path) -> list[Path]:
    """Phone and desktop, light and dark, English and Chinese: panel, settings, report dialog, banned view."""
    people, room_id = seed_moderation(server)
    saved: list[Path] = []

    def save(page: Page, name: str) -> None:
        path = out / f"{name}.png"
        page.screenshot(path=str(path))
        saved.append(path)

    zh = {"en-US": {}, "zh-CN": {"Report": "举报"}}
    for scheme in ("light", "dark"):
        for locale, suffix in (("en-US", ""), ("zh-CN", "-zh")):
            for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
                name = f"{size}-{scheme}-%s{suffix}"
                page = new_page(browser, server, viewport, scheme, people["ann"], locale=locale)
                page.goto(f"/#/room/{room_id}")
                settle_room(page)
                page.locator(".queue-btn:visible").click()
                page.locator(".mod-panel .queue-item").first.wait_for()
                page.wait_for_timeout(200)
                save(page, name % "moderation")
                page.keyboard.press("Escape")
                page.get_by_role("button", name="聊天室设置" if suffix else "Room settings").click()
                page.locator(".room-settings .mod-bans li").first.wait_for()
                page.wait_for_timeout(200)
                save(page, name % "room-settings")
                page.keyboard.press("Escape")
                message = page.locator("li.msg[data-seq]", has_text="Thanks Dana").last
                if size == "desktop":
                    message.hover()
                    message.get_by_role("button", name=zh[locale].get("Report", "Report"), exact=True).click()
                else:
                    message.dispatch_event("contextmenu")
                    page.locator("dialog.sheet .sheet-item").last.wait_for()
                    page.locator("dialog.sheet .sheet-item", has_text=zh[locale].get("Report", "Report")).click()
                page.locator("dialog[open] .choices").wait_for()
                page.wait_for_timeout(200)
                save(page, name % "report")
                page.context.close()

                # Eve watches the room while Ann bans her: her view stops and says why.
                eve, ann = people["eve"], people["ann"]
                try:
                    server.call("DELETE", f"/rooms/{room_id}/bans/{eve.id}", user=ann)
                except Exception:  # not banned yet
                    pass
                try:
                    server.call("POST", f"/rooms/{room_id}/join", user=eve)
                except Exception:  # still a member
                    pass
                page = new_page(browser, server, viewport, scheme, eve, locale=locale)
                page.goto(f"/#/room/{room_id}")
                settle_room(page)
                try:
                    server.call("POST", f"/rooms/{room_id}/bans", {"user_id": eve.id, "reason": "Insulting a neighbour",
                                                                  "duration_s": 86_400}, ann)
                except Exception as error:  # the moderation endpoints come with branch i11-mod
                    print(f"skipped the ban: {error}", file=sys.stderr)
                else:
                    page.locator(".removed-note").wait_for()
                    page.wait_for_timeout(300)
                    save(page, name % "banned")
                page.context.close()
    return saved


def seed_admin(server: Server, people: dict[str, User], general: int) -> str | None:
    """Issue 11: a report in the queue, entries in the audit log, an invite code (with the server's
    registration in invite mode); answers the code, or None on a server without invite codes."""
    ann, bob, chen, dana = people.values()
    history = server.call("GET", f"/rooms/{general}/messages", user=dana)["messages"]
    seq = [event["seq"] for event in history if event["type"] == "message" and event["sender"]["id"] == bob.id][-1]
    with contextlib.suppress(ApiError):  # a server without reports
        server.call("POST", f"/rooms/{general}/messages/{seq}/report",
                    {"reason": "spam", "note": "Looks like a link farm"}, dana)
    try:
        server.call("PATCH", f"/admin/users/{dana.id}", {"disabled": True}, ann)
        server.call("PATCH", f"/admin/users/{dana.id}", {"disabled": False}, ann)
        server.call("PUT", "/admin/registration", {"mode": "invite"}, ann)
        server.call("POST", "/admin/invites", {"uses": 5, "expires_in_s": 7 * 86_400}, ann)
        return server.call("POST", "/admin/invites", {"uses": 1, "expires_in_s": 86_400}, ann)["invite"]["code"]
    except ApiError:
        return None


def shoot_admin(browser: Browser, server: Server, ann: User, rooms: dict[str, int], out: Path) -> list[Path]:
    """The admin console's tabs, the privacy section of the settings, and sign-up with an invite link:
    phone and desktop, light and dark, English and 简体中文."""
    saved: list[Path] = []
    code = seed_admin(server, PEOPLE, rooms["general"])

    def save(page: Page, name: str) -> None:
        path = out / f"{name}.png"
        page.screenshot(path=str(path))
        saved.append(path)

    for scheme in ("light", "dark"):
        for locale, suffix in (("en-US", ""), ("zh-CN", "-zh")):
            for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
                page = new_page(browser, server, viewport, scheme, ann, locale=locale)
                tabs = ("users", "rooms", "reports", "audit", "registration", "figures") if size == "desktop" and not suffix \
                    else ("users", "audit", "registration")
                for tab in tabs:
                    page.goto(f"/#/admin/{tab}")
                    page.reload()
                    page.evaluate("document.fonts.ready")
                    page.locator(".admin-body .admin-pane").wait_for()
                    page.wait_for_function("() => !document.querySelector('.admin-body').textContent.includes('…')")
                    page.wait_for_timeout(300)
                    save(page, f"{size}-{scheme}-admin-{tab}{suffix}")
                    if tab == "users" and not suffix:
                        page.locator(".admin-row .btn.danger-text", has_text="Purge").first.click()
                        page.locator("dialog.dialog").wait_for()
                        save(page, f"{size}-{scheme}-admin-purge")
                        page.keyboard.press("Escape")
                page.goto("/#/")
                settle(page)
                page.locator(".sidebar .me").click()
                page.locator(".settings-dialog .privacy").wait_for()
                page.locator(".settings-dialog .privacy").scroll_into_view_if_needed()
                page.wait_for_timeout(300)
                save(page, f"{size}-{scheme}-settings-privacy{suffix}")
                if not suffix:
                    page.locator(".settings-dialog .privacy button").click()
                    page.locator("dialog.dialog >> nth=1").wait_for()
                    page.wait_for_timeout(300)
                    save(page, f"{size}-{scheme}-delete-account")
                page.context.close()
                if code:
                    page = new_page(browser, server, viewport, scheme, None, locale=locale)
                    page.goto(f"/?invite={code}")
                    page.locator(".auth-form input[name=invite]").wait_for()
                    page.evaluate("document.fonts.ready")
                    page.wait_for_timeout(300)
                    save(page, f"{size}-{scheme}-signup-invite{suffix}")
                    page.context.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder for the PNGs")
    parser.add_argument("--only", choices=("all", "main", "uploads", "moderation", "admin"), default="all", help="which set of screens")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parley-shots-") as tmp:
        server = Server(Path(tmp)).start()
        try:
            ann, rooms = seed(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                    *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
                try:
                    saved = shoot(browser, server, ann, rooms, args.out) if args.only in ("all", "main") else []
                    if args.only in ("all", "uploads"):
                        saved += shoot_uploads(browser, server, ann, rooms, args.out)
                    if args.only in ("all", "moderation"):
                        saved += shoot_moderation(browser, server, args.out)
                    if args.only in ("all", "admin"):
                        saved += shoot_admin(browser, server, ann, rooms, args.out)
                finally:
                    browser.close()
        finally:
            server.stop()
    for path in saved:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
