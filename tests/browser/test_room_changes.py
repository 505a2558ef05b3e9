"""Changes to a room and its people reaching every open page live: roles, a declined invitation,
display names, handing a room over; and controls shown only to those allowed to use them."""

from __future__ import annotations

import subprocess
import sys

from playwright.sync_api import Page, expect

from tests.browser.harness import PASSWORD, Server, User
from tests.browser.ui import open_room, room_item


def member_row(page: Page, user: User):
    return page.locator(f'.members .member[data-user-id="{user.id}"]')


def set_role(server: Server, actor: User, room_id: int, target: User, role: str) -> None:
    server.call("PATCH", f"/rooms/{room_id}/members/{target.id}", {"role": role}, actor)


def test_role_changes_update_my_role_members_and_controls_live(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "crew", visibility="private", members=(bob,))
    page = open_app(bob)
    open_room(page, room["id"])
    invite = page.get_by_role("button", name="Invite people")
    expect(invite).to_be_hidden()  # a member may not invite to a private room
    expect(page.get_by_role("button", name="Edit topic")).to_be_hidden()
    expect(member_row(page, bob)).not_to_contain_text("moderator")

    set_role(live_server, ann, room["id"], bob, "moderator")
    line = page.locator("li.sys", has_text=f"Ann @{ann.username} made Bob @{bob.username} moderator")
    expect(line).to_be_visible()
    expect(invite).to_be_visible()
    expect(member_row(page, bob)).to_contain_text("moderator")
    expect(page.get_by_role("button", name="Edit topic")).to_be_hidden()

    set_role(live_server, ann, room["id"], bob, "admin")
    expect(page.get_by_role("button", name="Edit topic")).to_be_visible()
    expect(member_row(page, bob)).to_contain_text("admin")

    page.reload()
    expect(line).to_be_visible()
    expect(page.locator("li.sys", has_text=f"made Bob @{bob.username} admin")).to_be_visible()
    expect(page.locator("li.sys p")).not_to_have_count(0)
    for text in page.locator("li.sys").all_inner_texts():
        assert text.split("\n")[0].strip(), "a system line holds only a time"


def test_invite_only_for_those_allowed_and_a_lock_on_private_rooms(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    public = live_server.create_room(ann, "plaza", members=(bob,))
    private = live_server.create_room(ann, "vault", visibility="private", members=(bob,))
    page = open_app(bob)

    open_room(page, public["id"])
    expect(page.get_by_role("button", name="Invite people")).to_be_visible()
    expect(page.locator(".room-title .room-hash")).to_have_text("#")
    expect(room_item(page, public["id"]).locator(".room-prefix")).to_have_text("#")

    open_room(page, private["id"])
    expect(page.get_by_role("button", name="Invite people")).to_be_hidden()
    expect(page.locator(".room-title")).to_have_text("Private roomvault")
    expect(page.locator(".room-title .room-lock svg")).to_be_visible()
    expect(room_item(page, private["id"]).locator(".room-prefix svg")).to_be_visible()
    expect(room_item(page, private["id"]).locator(".room-prefix")).not_to_contain_text("#")


def test_declining_an_invitation_drops_it_from_the_inviters_member_panel(open_app, live_server: Server) -> None:
    """Waits for the server: leaving while invited must emit `member_left`."""
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "den", visibility="private")
    live_server.call("POST", f"/rooms/{room['id']}/invite", {"usernames": [bob.username]}, ann)
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])
    expect(member_row(ann_page, bob)).to_contain_text("invited")

    room_item(bob_page, room["id"]).locator("a").click()
    bob_page.get_by_role("button", name="Decline").click()
    expect(room_item(bob_page, room["id"])).to_have_count(0)
    expect(member_row(ann_page, bob)).to_have_count(0)


def test_a_new_display_name_reaches_everyone_live(open_app, live_server: Server) -> None:
    """Waits for the server: a display-name change must send `user_updated` to those sharing a room."""
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "names", members=(bob,))
    direct = live_server.call("POST", "/direct", {"usernames": [ann.username]}, bob)
    live_server.post(bob, room["id"], "hello from bob")
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])
    open_room(bob_page, room["id"])
    expect(ann_page.locator(".msg-sender", has_text="Bob")).to_be_visible()
    expect(member_row(ann_page, bob)).to_contain_text("Bob")

    bob_page.get_by_role("button", name="Your profile").click()
    dialog = bob_page.get_by_role("dialog")
    dialog.get_by_role("region", name="Profile").get_by_label("Display name").fill("Robert")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(bob_page.locator(".me-name")).to_have_text("Robert")
    expect(bob_page.locator(".msg-sender")).to_have_text("Robert")
    expect(member_row(bob_page, bob).locator(".member-name")).to_have_text("Robert")

    expect(ann_page.locator(".msg-sender")).to_have_text("Robert")
    expect(member_row(ann_page, bob).locator(".member-name")).to_have_text("Robert")
    expect(room_item(ann_page, direct["id"])).to_contain_text(f"Robert @{bob.username}")
    expect(ann_page.locator(".msg-sender", has_text="Bob")).to_have_count(0)


def test_the_profile_dialog_shows_why_a_name_is_refused_and_changes_the_password(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    page = open_app(bob)
    page.get_by_role("button", name="Your profile").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("region", name="Profile").get_by_label("Display name").fill(f"@{ann.username}")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator(".form-error", has_text="display_name must")).to_have_text(
        "display_name must not look like another user's username")

    dialog.get_by_role("region", name="Profile").get_by_label("Display name").fill("Bob")
    dialog.get_by_label("Current password").fill(PASSWORD)
    dialog.get_by_label("New password").fill("a much better passphrase 42")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    # The change revoked the old session; the page carries on with the new one.
    expect(page.locator('.conn[data-state="connected"]')).to_be_visible()
    expect(page.locator(".sidebar")).to_be_visible()
    live_server.call("POST", "/auth/login", {"username": bob.username, "password": "a much better passphrase 42"})


def test_the_last_owner_hands_the_room_over_before_leaving(open_app, live_server: Server) -> None:
    """Waits for the server: 409 on the last owner's leave, and `{"role": "owner"}` transferring ownership."""
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "heirloom", members=(bob,))
    ann_page, bob_page = open_app(ann), open_app(bob)
    open_room(ann_page, room["id"])
    open_room(bob_page, room["id"])
    expect(bob_page.get_by_role("button", name="Change the owner")).to_be_hidden()

    ann_page.get_by_role("button", name="Leave room").click()
    dialog = ann_page.get_by_role("dialog")
    dialog.get_by_role("button", name="Leave").click()
    expect(dialog.locator(".form-error")).to_have_text(
        "You are the last owner: hand the room to someone before you leave.")
    dialog.get_by_label("Hand ownership to").select_option(str(bob.id))
    dialog.get_by_role("button", name="Leave").click()
    expect(room_item(ann_page, room["id"])).to_have_count(0)

    expect(member_row(bob_page, bob)).to_contain_text("owner")
    expect(bob_page.get_by_role("button", name="Change the owner")).to_be_visible()
    expect(bob_page.locator("li.sys", has_text=f"made Bob @{bob.username} owner")).to_be_visible()


def test_a_server_admin_names_a_new_owner(open_app, live_server: Server) -> None:
    """Waits for the server: a server admin may set `{"role": "owner"}` in any room."""
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    subprocess.run([sys.executable, "-m", "parley", "user", "create", "root1", "--password", PASSWORD,
                    "--display-name", "Root", "--admin", "--database-url", live_server.database_url],
                   env=live_server.env, check=True, capture_output=True, timeout=60)
    root = User(0, "root1", "Root", "")
    room = live_server.create_room(ann, "orphanage", members=(bob,))
    page = open_app(root, path="/")
    page.goto(f"/#/room/{room['id']}")
    page.get_by_role("button", name="Join").click()
    page.get_by_role("button", name="Change the owner").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New owner").select_option(str(bob.id))
    dialog.get_by_role("button", name="Make owner").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("li.sys", has_text=f"made Bob @{bob.username} owner")).to_be_visible()
    expect(member_row(page, bob)).to_contain_text("owner")


def test_moderation_reads_as_sentences_in_the_timeline(open_app, live_server: Server) -> None:
    """Moderation (issue 11): each event is one plain line, each change of a room_updated too; the
    kicked user's page drops the room."""
    ann, bob, cat, dan = (live_server.register(n, n.title()) for n in ("ann", "bob", "cat", "dan"))
    room = live_server.create_room(ann, "moderated", members=(bob, cat, dan))
    rid = room["id"]
    page, bobs = open_app(ann), open_app(bob)
    open_room(page, rid)
    open_room(bobs, rid)
    live_server.call("POST", f"/rooms/{rid}/members/{bob.id}/kick", {"reason": "spamming"}, ann)
    live_server.call("POST", f"/rooms/{rid}/bans", {"user_id": cat.id, "duration_s": 86400}, ann)
    live_server.call("POST", f"/rooms/{rid}/mutes", {"user_id": dan.id, "duration_s": 600, "reason": "calm"}, ann)
    live_server.call("PATCH", f"/rooms/{rid}", {"slow_mode_s": 30, "post_policy": "moderators"}, ann)
    by = f"Ann @{ann.username}"
    for text in (f"{by} removed Bob @{bob.username}: spamming", f"{by} banned Cat @{cat.username} for 1 day",
                 f"{by} muted Dan @{dan.username} for 10 minutes: calm",
                 f"{by} turned on slow mode: one message every 30 seconds",
                 f"{by} made the room announcements-only: moderators post"):
        expect(page.locator("li.sys p", has_text=text)).to_have_count(1)
    expect(room_item(bobs, rid)).to_have_count(0)


def test_retention_and_a_deleted_account_read_plainly(open_app, live_server: Server) -> None:
    """Privacy (issue 11): a retention change is one line; a deleted account is "Deleted user", with
    no @handle, on its messages and its leave line, live."""
    ann, bob = live_server.register("ann", "Ann"), live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "fading", members=(bob,))
    rid = room["id"]
    live_server.call("POST", f"/rooms/{rid}/messages", {"text": "remember me"}, ann)
    page = open_app(bob)
    open_room(page, rid)
    said = page.locator("li.msg", has_text="remember me")
    expect(said).to_contain_text(f"@{ann.username}")
    live_server.call("PATCH", f"/rooms/{rid}", {"retention_days": 30}, ann)
    expect(page.locator("li.sys p", has_text=f"Ann @{ann.username} set messages to be erased after 30 days")
           ).to_have_count(1)
    live_server.call("DELETE", "/me", {"password": PASSWORD}, ann)
    expect(page.locator("li.sys p", has_text="Deleted user left")).to_have_count(1)
    expect(said).to_contain_text("Deleted user")
    expect(said).not_to_contain_text("@deleted-")
    expect(said).not_to_contain_text(f"@{ann.username}")
