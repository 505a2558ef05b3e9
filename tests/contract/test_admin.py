"""Server administration on SQLite and PostgreSQL: users, rooms, registration modes, invite codes."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from parley.core.admin import Registration
from parley.core.errors import Unauthorized
from parley.core.models import User
from parley.services.admin import Admin
from parley.store import admin as admin_store
from parley.store import audit as audit_store
from parley.store.tables import invites
from parley.web.context import Context
from tests.contract.helpers import PASSWORD, outcome, register


async def _audit(ctx: Context, *actions: str) -> list[tuple[str, str | None, str | None]]:
    """(action, actor, target) of the audit entries with these actions, oldest first."""
    async with ctx.db.read() as conn:
        found = []
        for action in actions:
            found += await audit_store.entries(conn, action=action, limit=100)
    found.sort(key=lambda e: e["id"])
    return [(e["action"], e["actor"] and e["actor"]["username"], e["target"] and e["target"]["username"])
            for e in found]


async def test_admins_list_and_search_every_user_others_are_refused(ctx: Context) -> None:
    ann, bob, _, _ = await register(ctx, "ann", "bob", "Zed", "zoe", zoe="Bobby Z")
    await ctx.rooms.create(bob, "one")
    await ctx.rooms.direct(bob, ["ann"])  # a direct chat is not counted
    for call in (ctx.admin.users(bob), ctx.admin.rooms(bob), ctx.admin.registration(bob), ctx.admin.invites(bob),
                 ctx.admin.stats(bob), ctx.admin.update_user(bob, ann.id, disabled=True),
                 ctx.admin.create_invite(bob), ctx.admin.set_registration(bob, "closed")):
        assert await outcome(call) == "forbidden"

    page = await ctx.admin.users(ann)
    ids = [u["id"] for u in page["users"]]  # newest first
    assert ids == sorted(ids, reverse=True) and ids[-1] == ann.id and not page["has_more"]
    assert {u["username"] for u in page["users"]} == {"ann", "bob", "Zed", "zoe"}
    row = next(u for u in page["users"] if u["username"] == "bob")
    assert (row["rooms"], row["disabled"], row["is_admin"]) == (1, False, False)
    assert isinstance(row["last_login_at"], int) and row["created_at"] <= row["last_login_at"]
    # Prefix of the username or of the display name, ignoring case; LIKE's wildcards are plain text.
    assert {u["username"] for u in (await ctx.admin.users(ann, "BO"))["users"]} == {"zoe", "bob"}
    assert {u["username"] for u in (await ctx.admin.users(ann, "z"))["users"]} == {"zoe", "Zed"}
    assert (await ctx.admin.users(ann, "%"))["users"] == []
    first = await ctx.admin.users(ann, limit=3)
    assert first["has_more"] and len(first["users"]) == 3
    rest = await ctx.admin.users(ann, before=first["users"][-1]["id"], limit=3)
    assert [u["username"] for u in rest["users"]] == ["ann"] and not rest["has_more"]
    await _every_room(ctx, ann, bob)
    admin, other = await _disable_and_enable(ctx, ann, bob)
    await _no_lock_out(ctx, admin, other)


async def _disable_and_enable(ctx: Context, ann: User, bob: User) -> tuple[User, User]:
    """Disabling revokes every session and enabling restores sign-in; bob ends as the only admin."""
    _, token = await ctx.accounts.login("bob", PASSWORD)
    head = await ctx.presence.revocation_head()

    view = await ctx.admin.update_user(ann, bob.id, disabled=True)
    assert (view["id"], view["disabled"], view["last_login_at"]) == (bob.id, True, None)
    assert await outcome(ctx.accounts.authenticate(token)) == Unauthorized.code
    assert await outcome(ctx.accounts.login("bob", PASSWORD)) == Unauthorized.code
    assert [(u, s) for _, u, s in await ctx.presence.revocations_after(head)] == [(bob.id, 0)]
    assert [u["username"] for u in (await ctx.admin.users(ann))["users"] if u["disabled"]] == ["bob"]
    # Again: nothing changes, nothing more is revoked or recorded.
    await ctx.admin.update_user(ann, bob.id, disabled=True)
    assert len(await ctx.presence.revocations_after(head)) == 1

    assert (await ctx.admin.update_user(ann, bob.id, disabled=False))["disabled"] is False
    _, fresh = await ctx.accounts.login("bob", PASSWORD)
    assert (await ctx.accounts.authenticate(fresh))[0].id == bob.id

    assert (await ctx.admin.update_user(ann, bob.id, is_admin=True))["is_admin"] is True
    bob = (await ctx.accounts.authenticate(fresh))[0]
    assert (await ctx.admin.users(bob, "ann"))["users"][0]["is_admin"]  # bob administers now
    await ctx.admin.update_user(bob, ann.id, is_admin=False)
    ann = (await ctx.accounts.login("ann", PASSWORD))[0]
    assert await outcome(ctx.admin.users(ann)) == "forbidden"
    assert await _audit(ctx, "disable_user", "enable_user", "grant_admin", "revoke_admin") == [
        ("disable_user", "ann", "bob"), ("enable_user", "ann", "bob"), ("grant_admin", "ann", "bob"),
        ("revoke_admin", "bob", "ann")]
    assert await outcome(ctx.admin.update_user(bob, 999_999, disabled=True)) == "not_found"
    assert await outcome(ctx.admin.update_user(bob, ann.id)) == "invalid"
    return bob, ann


async def _no_lock_out(ctx: Context, bob: User, ann: User) -> None:
    """No admin locks themself out, and the last enabled one stays (bob is the only admin)."""
    assert await outcome(ctx.admin.update_user(bob, bob.id, disabled=True)) == "conflict"
    assert await outcome(ctx.admin.update_user(bob, bob.id, is_admin=False)) == "conflict"
    await ctx.admin.update_user(bob, ann.id, is_admin=True)
    ann = (await ctx.accounts.login("ann", PASSWORD))[0]
    # With another admin: still not oneself.
    assert await outcome(ctx.admin.update_user(bob, bob.id, is_admin=False)) == "forbidden"
    # Two admins disabling each other at once: the lock lets one win, and one admin stays enabled.
    results = await asyncio.gather(outcome(ctx.admin.update_user(ann, bob.id, disabled=True)),
                                   outcome(ctx.admin.update_user(bob, ann.id, disabled=True)))
    assert sorted(results) == ["forbidden", "ok"], results
    async with ctx.db.read() as conn:
        assert await admin_store.enabled_admins_except(conn, 0) == 1


async def _every_room(ctx: Context, ann: User, bob: User) -> None:
    """Every room but no direct chat, and the console's figures."""
    cat, = await register(ctx, "cat")
    lobby = await ctx.rooms.create(bob, "Lobby")
    hidden = await ctx.rooms.create(cat, "hidden_plans", visibility="private")
    old = await ctx.rooms.create(bob, "old")
    await ctx.rooms.join(cat, lobby["id"])
    await ctx.rooms.update(bob, old["id"], {"archived": True})
    await ctx.rooms.direct(bob, ["cat"])
    await ctx.messages.send(cat, hidden["id"], "latest")

    page = await ctx.admin.rooms(ann)
    rows = {r["name"]: r for r in page["rooms"]}
    assert list(rows) == ["old", "hidden_plans", "Lobby", "one"] and not page["has_more"]
    assert (rows["Lobby"]["member_count"], [o["username"] for o in rows["Lobby"]["owners"]]) == (2, ["bob"])
    assert (rows["hidden_plans"]["visibility"], rows["old"]["archived"]) == ("private", True)
    assert rows["hidden_plans"]["last_activity"] >= rows["Lobby"]["last_activity"] > 0
    assert [r["name"] for r in (await ctx.admin.rooms(ann, "PLAN"))["rooms"]] == ["hidden_plans"]
    assert (await ctx.admin.rooms(ann, "_p"))["rooms"][0]["name"] == "hidden_plans"  # `_` is a plain character
    one = await ctx.admin.rooms(ann, limit=1)
    assert one["has_more"] and [r["name"] for r in (await ctx.admin.rooms(ann, before=one["rooms"][0]["id"],
                                                                         limit=1))["rooms"]] == ["hidden_plans"]
    # ... and manage them without being a member: settings, members, the owner.
    await ctx.rooms.update(ann, hidden["id"], {"topic": "seen by the admin"})
    assert {m["user"]["username"] for m in await ctx.rooms.members(ann, hidden["id"])} == {"cat"}

    # The console's figures.
    for i in range(2):
        await ctx.messages.send(cat, hidden["id"], f"m{i}")
    await ctx.admin.create_invite(ann)
    figures = await ctx.admin.stats(ann)
    assert {k: figures[k] for k in ("users", "disabled_users", "admins", "rooms", "archived_rooms", "direct_chats",
                                    "messages_today", "open_invites")} == {
        "users": 5, "disabled_users": 0, "admins": 1, "rooms": 4, "archived_rooms": 1, "direct_chats": 2,
        "messages_today": 3, "open_invites": 1}
    async with ctx.db.write() as conn:  # yesterday's messages do not count
        await conn.execute(sa.text("UPDATE events SET ts = 1 WHERE id <= (SELECT id FROM events WHERE text = 'm0')"))
    assert (await ctx.admin.stats(ann))["messages_today"] == 1
    assert (await ctx.admin.stats(ann))["open_reports"] == 0
    sent, _ = await ctx.messages.send(bob, lobby["id"], "cheap followers here")
    await ctx.reports.report(cat, lobby["id"], sent.seq, "spam")
    assert (await ctx.admin.stats(ann))["open_reports"] == 1


async def test_registration_modes_and_invite_codes(ctx: Context) -> None:
    # PARLEY_REGISTRATION until an admin sets the mode; the first account registers whatever it is.
    assert await Admin(ctx.admin.deps, ctx.admin.emitter, Registration.CLOSED).server() == {
        "registration": "closed", "version": "1"}
    assert await ctx.admin.server() == {"registration": "open", "version": "1"}
    await ctx.admin.set_registration(None, "closed")  # `parley admin registration closed`
    ann, _ = await ctx.accounts.register("ann", PASSWORD)
    assert ann.is_admin
    assert await outcome(ctx.accounts.register("bob", PASSWORD)) == "registration_closed"
    await ctx.accounts.register("bob", PASSWORD, operator=True)  # `parley user create`

    await ctx.admin.set_registration(ann, "invite")
    assert (await ctx.admin.registration(ann))["mode"] == "invite"
    assert await outcome(ctx.accounts.register("dan", PASSWORD)) == "invite_required"
    assert await outcome(ctx.accounts.register("dan", PASSWORD, invite="nope")) == "invite_invalid"
    invite = await ctx.admin.create_invite(ann, uses=2, expires_in_s=3600)
    assert len(invite["code"]) >= 16 and invite["created_by"]["username"] == "ann"
    assert (invite["uses"], invite["used"]) == (2, 0)
    await ctx.accounts.register("dan", PASSWORD, invite=invite["code"])
    # A refused registration (the name is taken) spends nothing.
    assert await outcome(ctx.accounts.register("DAN", PASSWORD, invite=invite["code"])) == "conflict"
    await ctx.accounts.register("eve", PASSWORD, invite=invite["code"])
    assert await outcome(ctx.accounts.register("fay", PASSWORD, invite=invite["code"])) == "invite_used"
    assert [(i["code"], i["used"]) for i in await ctx.admin.invites(ann)] == [(invite["code"], 2)]

    late = await ctx.admin.create_invite(ann)
    async with ctx.db.write() as conn:
        await conn.execute(invites.update().where(invites.c.code == late["code"]).values(expires_at=1))
    assert await outcome(ctx.accounts.register("fay", PASSWORD, invite=late["code"])) == "invite_expired"
    await ctx.admin.revoke_invite(ann, late["code"])
    assert await outcome(ctx.admin.revoke_invite(ann, late["code"])) == "not_found"
    assert await outcome(ctx.accounts.register("fay", PASSWORD, invite=late["code"])) == "invite_invalid"
    assert await outcome(ctx.admin.create_invite(ann, uses=0)) == "invalid"

    # Two registrations racing for a code's last use: one account.
    code = (await ctx.admin.create_invite(ann, uses=1))["code"]
    results = await asyncio.gather(outcome(ctx.accounts.register("gus", PASSWORD, invite=code)),
                                   outcome(ctx.accounts.register("hal", PASSWORD, invite=code)))
    assert sorted(results) == ["invite_used", "ok"], results
    await _last_use_is_spent_once(ctx, (await ctx.admin.create_invite(ann, uses=1))["code"])

    await ctx.admin.set_registration(ann, "open")
    await ctx.accounts.register("fay", PASSWORD)
    assert [a for a, _, _ in await _audit(ctx, "registration_mode", "create_invite", "revoke_invite")] == [
        "registration_mode", "registration_mode", "create_invite", "create_invite", "revoke_invite",
        "create_invite", "create_invite", "registration_mode"]


async def _last_use_is_spent_once(ctx: Context, code: str) -> None:
    """Below the registration lock: two transactions spend the same last use; the second waits for the
    first's row lock (PostgreSQL) or for the write lock (SQLite), then finds nothing left."""
    now = ctx.admin.deps.clock()

    async def spend() -> bool:
        async with ctx.db.write() as conn:
            return await admin_store.consume_invite(conn, code, now)

    async with ctx.db.write() as conn:
        assert await admin_store.consume_invite(conn, code, now)
        second = asyncio.ensure_future(spend())
        if not ctx.db.sqlite:  # SQLite: the second cannot begin before this commits (one writer)
            for _ in range(100):
                if await _lock_waiters(ctx):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the second UPDATE never waited for the row lock")
    assert await second is False


async def _lock_waiters(ctx: Context) -> int:
    async with ctx.db.read() as conn:
        return int(await conn.scalar(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")))
