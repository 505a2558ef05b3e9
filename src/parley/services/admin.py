"""Server administration: users (disable, enable, grant and revoke admin), every room, the
registration mode and invite codes, and the console's figures. Every change is written to the audit
log in its own transaction; an actor of None is the operator at the command line."""

from __future__ import annotations

import secrets
from typing import Any

from parley.core import admin as rules
from parley.core.admin import Registration
from parley.core.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from parley.core.models import User
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import admin as store
from parley.store import audit as audit_store
from parley.store import reports as reports_store
from parley.store import users as user_store

REGISTRATION = "registration"  # its key in server_settings
_DAY_MS = 86_400_000


async def registration_mode(conn: Any, default: Registration) -> Registration:
    """The mode an admin set (every node reads the same row), else PARLEY_REGISTRATION."""
    stored = await store.setting(conn, REGISTRATION)
    return Registration(stored) if stored in Registration.__members__.values() else default


class Admin:
    def __init__(self, deps: Deps, emitter: Emitter, registration: Registration = Registration.OPEN) -> None:
        self.deps = deps
        self.emitter = emitter
        self.registration_default = registration

    # -- users --------------------------------------------------------------------------------------

    async def users(self, actor: User, q: str = "", before: int | None = None, limit: int = 50) -> dict[str, Any]:
        rules.require_server_admin(actor)
        limit = max(1, min(limit, rules.PAGE_MAX))
        async with self.deps.db.read() as conn:
            rows = await store.users_page(conn, q.strip()[:64], before, limit + 1)
        return {"users": [rules.user_view(*row) for row in rows[:limit]], "has_more": len(rows) > limit}

    async def update_user(self, actor: User, user_id: int, *, disabled: bool | None = None,
                          is_admin: bool | None = None) -> dict[str, Any]:
        """Disable (every session revoked at once, on every node), enable, grant or revoke admin.
        A change to what is already so records nothing."""
        rules.require_server_admin(actor)
        if disabled is None and is_admin is None:
            raise Invalid("send disabled, is_admin or both")
        await self._rate(actor)
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            await store.lock_admins(conn)
            current = await user_store.by_id(conn, actor.id)  # still an admin, now that we hold the lock?
            found = await user_store.by_id(conn, user_id)
            if current is None:
                raise Forbidden(rules.NOT_ADMIN)
            if found is None:
                raise NotFound("no such user")
            target = found[0]
            rules.require_user_change(current[0], target, disable=disabled, admin=is_admin,
                                      other_enabled_admins=await store.enabled_admins_except(conn, target.id))
            changes = {k: v for k, v in (("disabled", disabled), ("is_admin", is_admin))
                       if v is not None and getattr(target, k) != v}
            if changes:
                await user_store.update_user(conn, target.id, **changes)
            if changes.get("disabled"):
                await user_store.revoke_all(conn, target.id, now)
            for field, value in changes.items():
                await audit_store.record(conn, actor_id=actor.id, action=_ACTIONS[field][value],
                                         target_id=target.id, now=now)
            rows = await store.users_page(conn, "", target.id + 1, 1)  # the target, as the list shows it
        if changes.get("disabled"):
            await self.emitter.revoke(target.id)
        return rules.user_view(*rows[0])

    # -- rooms --------------------------------------------------------------------------------------

    async def rooms(self, actor: User, q: str = "", before: int | None = None, limit: int = 50) -> dict[str, Any]:
        rules.require_server_admin(actor)
        limit = max(1, min(limit, rules.PAGE_MAX))
        async with self.deps.db.read() as conn:
            rows = await store.rooms_page(conn, q.strip()[:80], before, limit + 1)
        return {"rooms": [rules.room_view(*row) for row in rows[:limit]], "has_more": len(rows) > limit}

    # -- registration -------------------------------------------------------------------------------

    async def server(self) -> dict[str, Any]:
        """What anyone may know before signing up. `version` is the API's, never the software's (no
        version for a scanner to match)."""
        async with self.deps.db.read() as conn:
            mode = await registration_mode(conn, self.registration_default)
        return {"registration": mode.value, "version": "1"}

    async def registration(self, actor: User) -> dict[str, Any]:
        rules.require_server_admin(actor)
        async with self.deps.db.read() as conn:
            return {"mode": (await registration_mode(conn, self.registration_default)).value}

    async def set_registration(self, actor: User | None, mode: str) -> dict[str, Any]:
        if actor is not None:
            rules.require_server_admin(actor)
            await self._rate(actor)
        if mode not in Registration.__members__.values():
            raise Invalid("mode must be open, invite or closed")
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            before = await registration_mode(conn, self.registration_default)
            await store.set_setting(conn, REGISTRATION, mode, now)
            if before.value != mode:
                await audit_store.record(conn, actor_id=actor and actor.id, action="registration_mode", now=now,
                                         data={"from": before.value, "to": mode})
        return {"mode": mode}

    async def create_invite(self, actor: User | None, uses: int = 1,
                            expires_in_s: int = rules.INVITE_TTL_DEFAULT_S) -> dict[str, Any]:
        if actor is not None:
            rules.require_server_admin(actor)
            await self._rate(actor)
        rules.check_invite(uses, expires_in_s)
        code, now = secrets.token_urlsafe(16), self.deps.clock()  # 128 random bits
        async with self.deps.db.write() as conn:
            if await store.open_invites(conn, now) >= rules.INVITES_OPEN_MAX:
                raise Conflict(f"{rules.INVITES_OPEN_MAX} invite codes are open already: revoke some first")
            await store.insert_invite(conn, code=code, uses=uses, expires_at=now + expires_in_s * 1000,
                                      created_by=actor and actor.id, now=now)
            await audit_store.record(conn, actor_id=actor and actor.id, action="create_invite", now=now,
                                     data={"uses": uses, "expires_at": now + expires_in_s * 1000})
            (row,) = await store.invite_list(conn, code=code)
        return _invite(row)

    async def invites(self, actor: User) -> list[dict[str, Any]]:
        rules.require_server_admin(actor)
        async with self.deps.db.read() as conn:
            return [_invite(row) for row in await store.invite_list(conn)]

    async def revoke_invite(self, actor: User, code: str) -> None:
        rules.require_server_admin(actor)
        await self._rate(actor)
        now = self.deps.clock()
        if len(code) > rules.INVITE_CODE_MAX or "\x00" in code:
            raise NotFound("no such invite code")
        async with self.deps.db.write() as conn:
            if not await store.delete_invite(conn, code):
                raise NotFound("no such invite code")
            # The log keeps no usable code: its first characters tell which one it was.
            await audit_store.record(conn, actor_id=actor.id, action="revoke_invite", now=now,
                                     data={"code": code[:6]})

    # -- figures ------------------------------------------------------------------------------------

    async def stats(self, actor: User) -> dict[str, Any]:
        rules.require_server_admin(actor)
        now = self.deps.clock()
        async with self.deps.db.read() as conn:
            figures = await store.stats(conn, now - now % _DAY_MS)  # since 00:00 UTC
            figures["open_invites"] = await store.open_invites(conn, now)
            figures["open_reports"] = await reports_store.open_count(conn)
        return figures

    async def _rate(self, actor: User) -> None:
        wait = await self.deps.bus.hit(f"admin:{actor.id}", self.deps.limits.action_rate)
        if wait:
            raise RateLimited("administration changes are limited to a few a second", wait)


_ACTIONS = {"disabled": {True: "disable_user", False: "enable_user"},
            "is_admin": {True: "grant_admin", False: "revoke_admin"}}


def _invite(row: Any) -> dict[str, Any]:
    creator = None if row.creator_id is None else User(
        row.creator_id, row.username, row.display_name, False, False, 0, row.avatar).public()
    return rules.invite_view(row.code, row.uses, row.used, row.expires_at, row.created_at, creator)
