"""The minimal client of the message actions (issue 10): a message edited, reacted to and deleted
by someone else changes in place in an open timeline, live and after a reload. (The toolbar and
the rest of the UI: branch actionsui.)"""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import expect

from tests.browser.harness import Server
from tests.browser.ui import STORED, expect_message, open_room


def test_edits_reactions_and_deletes_change_the_message_in_place(open_app, live_server: Server) -> None:
    ann = live_server.register("ann", "Ann")
    bob = live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "actions", members=(bob,))
    first = live_server.post(bob, room["id"], "first words")
    second = live_server.post(bob, room["id"], "to be deleted")
    page = open_app(ann)
    open_room(page, room["id"])
    expect_message(page, "to be deleted")
    base = f"/rooms/{room['id']}/messages"

    live_server.call("PATCH", f"{base}/{first['seq']}", {"text": "better words <b>x</b>"}, user=bob)
    row = page.locator(f'{STORED}[data-seq="{first["seq"]}"]')
    expect(row.locator(".msg-body")).to_have_text("better words <b>x</b>")
    expect(row.locator(".msg-edited")).to_have_text("(edited)")

    live_server.call("PUT", f"{base}/{first['seq']}/reactions/{quote('🎉')}", user=bob)
    live_server.call("PUT", f"{base}/{first['seq']}/reactions/{quote('🎉')}", user=ann)
    expect(row.locator(".reaction")).to_have_text("🎉 2")
    expect(row.locator(".reaction.mine")).to_have_count(1)
    live_server.call("DELETE", f"{base}/{first['seq']}/reactions/{quote('🎉')}", user=ann)
    expect(row.locator(".reaction")).to_have_text("🎉 1")
    expect(row.locator(".reaction.mine")).to_have_count(0)

    live_server.call("DELETE", f"{base}/{second['seq']}", user=bob)
    gone = page.locator(f'{STORED}[data-seq="{second["seq"]}"]')
    expect(gone.locator(".msg-deleted")).to_have_text("This message was deleted.")
    expect(page.get_by_text("to be deleted")).to_have_count(0)
    # The action events draw no lines of their own.
    expect(page.locator("ol.events > li.sys:visible", has_text="reacted")).to_have_count(0)

    page.reload()
    open_room(page, room["id"])
    row = page.locator(f'{STORED}[data-seq="{first["seq"]}"]')
    expect(row.locator(".msg-body")).to_have_text("better words <b>x</b>")
    expect(row.locator(".reaction")).to_have_text("🎉 1")
    expect(page.locator(f'{STORED}[data-seq="{second["seq"]}"] .msg-deleted')).to_be_visible()
