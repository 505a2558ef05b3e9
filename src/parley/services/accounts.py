"""Registration, login, sessions, profile and the server admin's user commands."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from parley.core import glyphs, mentions, validation, wire
from parley.core.admin import Registration, admission, invite_refusal
from parley.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from parley.core.models import Session, User
from parley.services.admin import registration_mode
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.services.throttle import Throttle
from parley.store import admin as admin_store
from parley.store import rooms as room_store
from parley.store import users as store

# OWASP's argon2id floor: 19 MiB, 2 passes, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_BAD_LOGIN = "wrong username or password"
_THROTTLED = "too many failed attempts; try again later"


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Accounts:
    def __init__(self, deps: Deps, emitter: Emitter, registration: Registration = Registration.OPEN) -> None:
        self.deps = deps
        self.emitter = emitter
        self.registration = registration  # PARLEY_REGISTRATION, until an admin sets the mode
        self._dummy_hash = _hasher.hash(secrets.token_hex(16))
        self.throttle = Throttle(deps.bus)

    async def register(self, username: object, password: object, display_name: object = None,
                       *, client_ip: str = "", admin: bool = False, invite: str | None = None,
                       operator: bool = False) -> tuple[User, str]:
        """Create an account and its first session. The registration mode applies, except to the
        operator at the command line (`operator`) and to the first account of an empty server: in
        `invite` mode one use of `invite` is spent in the transaction that creates the account."""
        name = validation.username(username)
        if name.lower() in mentions.ROOM_TOKENS:  # @room / @here would notify the whole room
            raise Invalid(f"the username {name!r} is reserved: @{name.lower()} mentions everyone in a room")
        shown = validation.display_name(name if display_name in (None, "") else display_name)
        secret = validation.password(password, username=name)
        limits = self.deps.limits
        # Paid before hashing, never refunded: it limits how many accounts one address makes.
        charges = [(f"register-ip:{client_ip}", limits.register_ip_rate)] if client_ip else []
        slots = [(f"ip:{client_ip}", limits.hashes_per_address)] if client_ip else []
        async with self.throttle.attempt(charges, slots):  # the slot first: the check below awaits
            if not operator:  # refused before the costly hash; checked again, atomically, below
                async with self.deps.db.read() as conn:
                    await self._admit(conn, invite, first=await store.count_users(conn) == 0, spend=False)
            pw_hash = await asyncio.to_thread(_hasher.hash, secret)
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            # The first account on an empty server administers it.
            await store.lock_registrations(conn)
            first = await store.count_users(conn) == 0
            if not operator:
                await self._admit(conn, invite, first=first, spend=True)
            await _refuse_others_username(conn, shown, own=name)
            user = await store.insert_user(conn, username=name, display_name=shown, password_hash=pw_hash,
                                           is_admin=admin or first, now=now)
            if user is None:
                raise Conflict("that username is taken")
            token = await self._new_session(conn, user.id, now)
        return user, token

    async def provision(self, username: str, display_name: str, *, session: bool) -> tuple[User, str | None]:
        """An account that never logs in with a password (the support assistant, a widget's visitor):
        no registration mode, no hash to compute (the stored one matches no password). With
        `session`, its one session's token."""
        name = validation.username(username)
        shown = validation.display_name(display_name)
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            user = await store.insert_user(conn, username=name, display_name=shown, password_hash="!", is_admin=False,
                                           now=now)
            if user is None:
                raise Conflict("that username is taken")
            token = await self._new_session(conn, user.id, now) if session else None
        return user, token

    async def _admit(self, conn: Any, invite: str | None, *, first: bool, spend: bool) -> None:
        """Refuse a registration the mode does not allow (the first account always registers); with
        `spend`, take one use of the invite code it needs."""
        mode = await registration_mode(conn, self.registration)
        if not admission(mode, first=first, invite=invite):
            return
        assert invite is not None
        now = self.deps.clock()
        if spend and await admin_store.consume_invite(conn, invite, now):
            return
        found = await admin_store.invite_state(conn, invite)
        if not spend and found is not None and found[1] < found[0] and found[2] > now:
            return
        raise invite_refusal(found, now)

    async def login(self, username: object, password: object, *, client_ip: str = "") -> tuple[User, str]:
        # A name that breaks the username rules cannot exist: refused before any bucket or hash.
        if (not isinstance(username, str) or not validation.USERNAME_RE.fullmatch(username)
                or not isinstance(password, str) or len(password) > 1024):
            raise Unauthorized(_BAD_LOGIN)
        name, limits = username.lower(), self.deps.limits
        # Failures are counted per address and per (account, address): a guesser elsewhere cannot
        # lock the owner out, and one address cannot spray many accounts. Paid up front, refunded
        # on success.
        charges = [(f"login-ip:{client_ip}", limits.login_ip_rate), (f"login:{name}:{client_ip}", limits.login_rate)]
        slots = [(f"user:{name}", limits.hashes_per_account)]
        slots += [(f"ip:{client_ip}", limits.hashes_per_address)] if client_ip else []
        async with self.throttle.attempt(charges, slots, message=_THROTTLED) as attempt:
            async with self.deps.db.read() as conn:
                found = await store.by_username(conn, name)
            ok = await asyncio.to_thread(_verify, found[1] if found else self._dummy_hash, password)
            if not ok or found is None or found[0].disabled:
                raise Unauthorized(_BAD_LOGIN)
            attempt.succeeded()
        async with self.deps.db.write() as conn:
            token = await self._new_session(conn, found[0].id, self.deps.clock())
        return found[0], token

    async def authenticate(self, token: str | None) -> tuple[User, Session]:
        if not token or len(token) > 200:
            raise Unauthorized("log in first")
        found = await self.deps.db.connects.session_user(hash_token(token), self.deps.clock())
        if found is None:
            raise Unauthorized("the session is unknown, expired or revoked; log in again")
        return found

    async def logout(self, session: Session) -> None:
        async with self.deps.db.write() as conn:
            await store.delete_session(conn, session.id)
            await store.record_revocation(conn, session.user_id, session.id, self.deps.clock())
        await self.emitter.revoke(session.user_id, session.id)

    async def check_password(self, user: User, current: object, field: str = "password") -> None:
        """The user's password, asked again before a grave change (Forbidden when wrong)."""
        async with self._password_checked(user, current, field):
            pass

    @contextlib.asynccontextmanager
    async def _password_checked(self, user: User, current: object, field: str) -> AsyncIterator[None]:
        """Like a login, per user: a stolen session must not become a way to guess the password.
        The body runs inside the hashing slot (a new hash is made there)."""
        if not isinstance(current, str) or len(current) > 1024:
            raise Forbidden(f"{field} is wrong")
        limits = self.deps.limits
        async with self.throttle.attempt([(f"password:{user.id}", limits.login_rate)],
                                         [(f"user:{user.username.lower()}", limits.hashes_per_account)],
                                         message=_THROTTLED) as attempt:
            async with self.deps.db.read() as conn:
                found = await store.by_id(conn, user.id)
            if found is None or not await asyncio.to_thread(_verify, found[1], current):
                raise Forbidden(f"{field} is wrong")
            attempt.succeeded()
            yield

    async def change_password(self, user: User, current: object, new: object) -> str:
        secret = validation.password(new, field="new_password", username=user.username)
        async with self._password_checked(user, current, "current_password"):
            pw_hash = await asyncio.to_thread(_hasher.hash, secret)
        async with self.deps.db.write() as conn:
            await store.update_user(conn, user.id, password_hash=pw_hash)
            await store.revoke_all(conn, user.id, self.deps.clock())
            token = await self._new_session(conn, user.id, self.deps.clock())
        await self.emitter.revoke(user.id)
        return token

    async def update_profile(self, user: User, display_name: object = None, *, status: object = None) -> User:
        """Change the display name and/or the status line, and tell everyone who shares a room with
        the user (and the user's other connections) with a `user_updated` frame. Not a room event:
        a client that was offline refetches members when it reconnects."""
        changes: dict[str, str] = {}
        if display_name is not None:
            changes["display_name"] = validation.display_name(display_name)
        if status is not None:
            changes["status"] = validation.status(status)
        if not changes:
            raise Invalid("send display_name, status or both")
        async with self.deps.db.write() as conn:
            if "display_name" in changes:
                await _refuse_others_username(conn, changes["display_name"], own=user.username)
            await store.update_user(conn, user.id, **changes)
            found = await store.by_id(conn, user.id)
            recipients = await room_store.sharing(conn, user.id) if found and found[0] != user else []
        assert found is not None
        await self.emitter.to_users(recipients, wire.UserUpdatedFrame(user=wire.profile(found[0])))
        return found[0]

    async def search(self, query: str, limit: int) -> list[User]:
        if not query.strip():
            return []
        async with self.deps.db.read() as conn:
            return await store.search(conn, query.strip()[:64], max(1, min(limit, 50)))

    async def disable(self, username: str) -> User:
        async with self.deps.db.write() as conn:
            found = await store.by_username(conn, username)
            if found is None:
                raise NotFound(f"no user named {username!r}")
            await store.update_user(conn, found[0].id, disabled=True)
            await store.revoke_all(conn, found[0].id, self.deps.clock())
        await self.emitter.revoke(found[0].id)
        return found[0]

    async def _new_session(self, conn: object, user_id: int, now: int) -> str:
        token = secrets.token_urlsafe(32)
        await store.insert_session(conn, user_id, hash_token(token), now,  # type: ignore[arg-type]
                                   now + self.deps.limits.session_ttl_ms)
        return token


async def _refuse_others_username(conn: object, display_name: str, *, own: str) -> None:
    """Duplicate display names are allowed (the client shows @username beside each), but one that
    reads as another user's username, or holds an '@name' of theirs ("Bob @bob" shown as
    "Bob @bob @eve"), is impersonation."""
    named = {n for n in glyphs.usernames_read_in(display_name)
             if n != own.lower() and validation.USERNAME_RE.fullmatch(n)}
    if named and await store.by_usernames(conn, named):  # type: ignore[arg-type]
        raise Conflict("display_name must not look like another user's username")


def _verify(pw_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(pw_hash, password)
    except (VerificationError, InvalidHashError):
        return False
