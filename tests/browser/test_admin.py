"""Issue 11 in the browser: the admin console (users, registration and invite codes, the audit log),
blocking from the profile card, and the privacy settings (export, delete my account)."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

from playwright.sync_api import Page, expect

from tests.browser.harness import PASSWORD, Server, User
from tests.browser.ui import STORED, expect_unread, open_room, room_item

FOLDED = "ol.events > li.blocked-msg"


def make_admin(server: Server, name: str) -> User:
    """A server admin, made the way an operator does (`parley user create --admin`)."""
    subprocess.run([sys.executable, "-m", "parley", "user", "create", name, "--password", PASSWORD,
                    "--display-name", name.title(), "--admin", "--database-url", server.database_url],
                   env=server.env, check=True, capture_output=True, timeout=60)
    return User(0, name, name.title(), "")


def open_card(page: Page, name: str) -> None:
    page.locator(f"{STORED} button:has(.msg-sender)", has_text=name).first.click()
    expect(page.locator("dialog.card")).to_be_visible()


def test_blocking_folds_their_messages_and_quiets_their_mentions(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    porch = live_server.create_room(ann, "porch", members=(bob,))
    yard = live_server.create_room(ann, "yard", members=(bob,))
    live_server.post(bob, porch["id"], "hello from bob")
    live_server.post(ann, porch["id"], "hello from ann")
    page = open_app(ann)
    open_room(page, porch["id"])
    expect(page.locator(f"{STORED} .msg-body", has_text="hello from bob")).to_be_visible()

    # Before blocking, a mention from Bob marks the other room (the check below can fail).
    live_server.post(bob, yard["id"], f"@{ann.username} before")
    expect(room_item(page, yard["id"])).to_have_attribute("data-mention", "true")

    open_card(page, "Bob")
    page.locator("dialog.card").get_by_role("button", name="Block", exact=True).click()
    expect(page.locator("dialog.card").get_by_role("button", name="Unblock")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(FOLDED)).to_contain_text("Message from a blocked user — show")
    expect(page.locator(f"{STORED} .msg-body", has_text="hello from ann")).to_be_visible()
    assert live_server.call("GET", "/me", user=ann)["blocked"] == [bob.id]

    # Read the yard, then a new mention from Bob counts as unread but marks nothing.
    open_room(page, yard["id"])
    expect_unread(page, yard["id"], 0)
    expect(room_item(page, yard["id"])).to_have_attribute("data-mention", "false")
    open_room(page, porch["id"])
    live_server.post(bob, yard["id"], f"@{ann.username} after")
    expect_unread(page, yard["id"], 1)
    expect(room_item(page, yard["id"])).to_have_attribute("data-mention", "false")

    # Still folded after a reload (GET /me carries `blocked`); "show" unfolds that one message.
    page.reload()
    expect(page.locator(FOLDED)).to_have_count(1)
    page.locator(FOLDED).get_by_role("button", name="show").click()
    expect(page.locator(f"{STORED} .msg-body", has_text="hello from bob")).to_be_visible()
    expect(page.locator(FOLDED)).to_have_count(0)

    open_card(page, "Bob")
    page.locator("dialog.card").get_by_role("button", name="Unblock").click()
    expect(page.locator("dialog.card").get_by_role("button", name="Block", exact=True)).to_be_visible()
    assert live_server.call("GET", "/me", user=ann)["blocked"] == []


def test_a_blocked_users_messages_fold_in_the_thread_panel_and_in_search(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    porch = live_server.create_room(ann, "veranda", members=(bob,))
    root = live_server.post(ann, porch["id"], "plans for the weekend")
    live_server.call("POST", f"/rooms/{porch['id']}/messages",
                     {"text": "bob says kiwifruit picnic", "thread_root": root["seq"]}, bob)
    live_server.call("POST", f"/rooms/{porch['id']}/messages",
                     {"text": "ann says kiwifruit too", "thread_root": root["seq"]}, ann)
    live_server.call("PUT", f"/me/blocks/{bob.id}", None, ann)
    page = open_app(ann)
    open_room(page, porch["id"])
    message = page.locator(STORED, has=page.locator(".msg-body", has_text="plans for the weekend")).last
    message.hover()
    message.locator(".msg-tools").get_by_role("button", name="Reply in thread", exact=True).click()
    panel = page.locator(".thread-panel")
    expect(panel.locator("li.blocked-msg")).to_have_text("Message from a blocked user — show")
    expect(panel).to_contain_text("ann says kiwifruit too")
    expect(panel).not_to_contain_text("bob says kiwifruit")
    panel.locator("li.blocked-msg").get_by_role("button", name="show").click()
    expect(panel).to_contain_text("bob says kiwifruit picnic")
    expect(panel.locator("li.blocked-msg")).to_have_count(0)
    page.locator(".thread-close").click()

    box = page.locator(".sidebar .search-input")
    box.fill("kiwifruit")
    box.press("Enter")
    results = page.locator(".search-results")
    expect(page.locator(".search-hit", has_text="ann says")).to_have_count(1)
    folded = results.locator("li.blocked-msg")
    expect(folded).to_have_text("Message from a blocked user — show")
    expect(page.locator(".search-hit", has_text="bob says")).to_have_count(0)
    folded.get_by_role("button", name="show").click()
    expect(page.locator(".search-hit", has_text="bob says")).to_be_focused()
    expect(folded).to_have_count(0)


def test_my_data_downloads_as_a_zip_and_my_account_can_go(open_app, live_server: Server) -> None:
    eve = live_server.register("eve", "Eve")
    room = live_server.create_room(eve, "diary")
    live_server.post(eve, room["id"], "dear diary")
    page = open_app(eve)
    page.locator(".sidebar .me").click()
    settings = page.locator("dialog.settings-dialog")
    with page.expect_download() as download:
        settings.get_by_role("link", name="Download my data").click()
    data = download.value.path().read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert any("dear diary" in archive.read(name).decode(errors="replace") for name in archive.namelist())

    settings.get_by_role("button", name="Delete my account…").click()
    confirm = page.get_by_role("dialog", name="Delete your account?")
    expect(confirm).to_contain_text("Your messages stay in their rooms, shown under “deleted user”.")  # keep: the default
    confirm.get_by_label("Current password").fill("not-the-password")
    confirm.get_by_role("button", name="Delete my account").click()
    expect(confirm.get_by_role("alert")).to_have_text("That password is not right.")
    confirm.get_by_label("Current password").fill(PASSWORD)
    confirm.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".auth-form")).to_be_visible()
    login = page.context.request.post("/api/v1/auth/login", data={"username": eve.username, "password": PASSWORD},
                                      headers={"X-Requested-With": "parley"})
    assert login.status == 401


def test_an_admin_disables_a_user_and_lets_people_in_by_invitation(open_app, live_server: Server) -> None:
    root = make_admin(live_server, "rootadmin")
    carl = live_server.register("carl", "Carl")
    carl_page = open_app(carl)
    page = open_app(root, path="/admin")
    expect(page).to_have_url(f"{live_server.url}/#/admin/users")
    expect(page.get_by_role("tab", name="Users")).to_have_attribute("aria-selected", "true")
    page.get_by_role("tab", name="Users").focus()  # the tabs follow the arrow keys
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Figures")).to_be_focused()
    accounts = page.request.get("/api/v1/admin/stats").json()["users"]
    expect(page.locator(".admin-figures dd[data-figure=users]")).to_have_text(str(accounts))
    # The spam filter's figures and thresholds (this server runs with the filter off).
    expect(page.locator('.admin-figures dd[data-figure="enabled"]')).to_have_text("no")
    expect(page.locator('.admin-figures dd[data-figure="decisions.waiting"]')).to_have_text("0")
    page.get_by_label("Hold for review from (%)").fill("60")
    page.get_by_role("button", name="Save thresholds").click()
    expect(page.locator(".spam-settings [role=status]")).to_have_text("Saved.")
    expect(page.locator('.admin-figures dd[data-figure="thresholds.hold"]')).to_have_text("60 %")
    assert page.request.get("/api/v1/admin/spam").json()["thresholds"]["hold"] == 0.6
    page.get_by_role("tab", name="Figures").focus()
    page.keyboard.press("Home")
    expect(page.get_by_role("tab", name="Users")).to_have_attribute("aria-selected", "true")

    # Users: search, disable; Carl's open page is signed out at once.
    page.get_by_label("Search users").fill(carl.username)
    row = page.locator(f'.admin-row[data-user-id="{carl.id}"]')
    expect(page.locator(".admin-row")).to_have_count(1)
    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("disabled")
    expect(carl_page.locator(".auth-form")).to_be_visible()
    row.get_by_role("button", name="Enable").click()
    expect(row.get_by_role("button", name="Disable")).to_be_visible()

    # Reports: one about a room owner's message reaches the server admins' console live; resolved there.
    erin, fay = live_server.register("erin", "Erin"), live_server.register("fay", "Fay")
    room = live_server.create_room(fay, "fay's corner", members=(erin,))
    seq = live_server.post(fay, room["id"], "buy followers here")["seq"]
    page.get_by_role("tab", name="Reports").click()
    expect(page.locator(".admin-body")).not_to_contain_text("Loading")
    live_server.call("POST", f"/rooms/{room['id']}/messages/{seq}/report", {"reason": "spam", "note": "ads"}, erin)
    expect(page.locator(".admin-row", has_text="buy followers here")).to_contain_text("Reported by Erin")
    report = page.locator(f'.admin-row[data-report-id="{page.locator(".admin-row", has_text="buy followers here").get_attribute("data-report-id")}"]')
    report.get_by_role("button", name="Resolve").click()
    expect(report).to_have_text("Resolved.")
    assert live_server.call("GET", "/me/reports", user=erin)["reports"][0]["state"] == "resolved"

    # Registration: by invitation; an invite code for one use, its link opens the sign-up form.
    page.get_by_role("tab", name="Registration").click()
    page.get_by_role("radio", name="By invitation").check()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    assert live_server.call("GET", "/server")["registration"] in ("invite", {"mode": "invite"})
    page.get_by_role("button", name="Create invite code").click()
    link = page.get_by_label("Invite link").first.input_value()
    assert "/?invite=" in link

    guest = open_app(path=link.removeprefix(live_server.url))
    form = guest.locator(".auth-form")
    expect(form.get_by_label("Invite code")).to_have_value(link.split("invite=")[1])
    form.get_by_label("Username").fill("dora")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Register").click()
    expect(guest.locator('.conn[data-state="connected"]')).to_be_visible()
    assert "invite" not in guest.url

    # The code had one use: the same link now fails, with the reason in the form.
    second = open_app(path=link.removeprefix(live_server.url))
    form = second.locator(".auth-form")
    form.get_by_label("Username").fill("dora2")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Register").click()
    expect(form.get_by_role("alert")).not_to_be_empty()
    expect(second.locator(".sidebar")).to_have_count(0)

    # Closed: the sign-up form says so.
    page.get_by_role("radio", name="Closed").check()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    third = open_app()
    third.locator(".tabs").get_by_role("button", name="Register").click()
    expect(third.get_by_text("Registration is closed on this server.")).to_be_visible()

    # The audit log lists what the admin did, newest first, and filters by action.
    page.get_by_role("tab", name="Audit log").click()
    entries = page.locator(".admin-row[data-action]")
    expect(entries.first).to_have_attribute("data-action", "registration_mode")
    page.get_by_label("Action").select_option("disable_user")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("Carl")

    page.get_by_role("tab", name="Registration").click()  # open again, for the tests that follow
    page.get_by_role("radio", name="Open").check()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
