"""Users and sessions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.models import Session, User
from parley.core.uploads import avatar_url
from parley.store.tables import revocations, sessions, support_accounts, users

_USER_COLS = (users.c.id, users.c.username, users.c.display_name, users.c.is_admin, users.c.disabled,
              users.c.created_at, users.c.avatar, users.c.status, users.c.bot, users.c.bot_owner_id)


def public_columns(table: sa.Alias, prefix: str) -> tuple[sa.Label, ...]:
    """The columns of a public user object from an alias of `users`, labelled `{prefix}_...`, for a
    query that names several people (an actor and a target); `public_from` reads them back."""
    return tuple(c.label(f"{prefix}_{c.name}") for c in (table.c.id, table.c.username, table.c.display_name,
                                                          table.c.avatar, table.c.bot))


def public_from(row: sa.Row, prefix: str) -> dict[str, Any] | None:
    """The public user object of `public_columns` (None when the outer join found no one)."""
    person_id = getattr(row, f"{prefix}_id")
    if person_id is None:
        return None
    out = {"id": person_id, "username": getattr(row, f"{prefix}_username"),
           "display_name": getattr(row, f"{prefix}_display_name"),
           "avatar_url": avatar_url(person_id, getattr(row, f"{prefix}_avatar"))}
    if getattr(row, f"{prefix}_bot", False):
        out["bot"] = True
    return out


def _user(row: sa.Row) -> User:
    return User(row.id, row.username, row.display_name, bool(row.is_admin), bool(row.disabled), row.created_at,
                row.avatar, row.status, bool(row.bot), row.bot_owner_id)


async def insert_user(conn: AsyncConnection, *, username: str, display_name: str, password_hash: str,
                      is_admin: bool, now: int) -> User | None:
    """Insert a user; None if the name is taken (ignoring case)."""
    exists = await conn.scalar(sa.select(users.c.id).where(users.c.username_lower == username.lower()))
    if exists is not None:
        return None
    try:
        # A savepoint, so that losing a race for the name leaves the transaction usable.
        async with conn.begin_nested():
            result = await conn.execute(users.insert().values(
                username=username, username_lower=username.lower(), display_name=display_name,
                password_hash=password_hash, is_admin=is_admin, disabled=False, created_at=now,
            ).returning(*_USER_COLS))
    except sa.exc.IntegrityError:
        return None
    return _user(result.one())


async def lock_registrations(conn: AsyncConnection) -> None:
    """Serialise registrations on PostgreSQL (SQLite has one writer anyway), so that exactly one
    account is the first, and the admin, of an empty server."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(7501)"))


async def count_users(conn: AsyncConnection) -> int:
    """People's accounts: not bots (the server's own assistant may exist before anyone registers)
    nor the support widget's visitors, so the first person to register still administers the server."""
    guest = sa.exists().where(support_accounts.c.user_id == users.c.id, support_accounts.c.kind == "guest")
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(users)
                                 .where(users.c.bot.is_(False), ~guest)) or 0)


async def by_username(conn: AsyncConnection, username: str) -> tuple[User, str] | None:
    """The user and their password hash."""
    row = (await conn.execute(sa.select(*_USER_COLS, users.c.password_hash)
                              .where(users.c.username_lower == username.lower()))).one_or_none()
    return None if row is None else (_user(row), row.password_hash)


async def by_id(conn: AsyncConnection, user_id: int) -> tuple[User, str] | None:
    row = (await conn.execute(sa.select(*_USER_COLS, users.c.password_hash)
                              .where(users.c.id == user_id))).one_or_none()
    return None if row is None else (_user(row), row.password_hash)


async def by_usernames(conn: AsyncConnection, names: Iterable[str]) -> list[User]:
    lowered = sorted({n.lower() for n in names})
    rows = await conn.execute(sa.select(*_USER_COLS).where(users.c.username_lower.in_(lowered)))
    return [_user(r) for r in rows]


def escape_like(text: str) -> str:
    """`text` lowered, with LIKE's wildcards escaped (by a backslash)."""
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def name_prefix(prefix: str) -> sa.ColumnElement[bool]:
    """Username or display name starts with `prefix`, ignoring case."""
    escaped = escape_like(prefix) + "%"
    return sa.or_(users.c.username_lower.like(escaped, escape="\\"),
                  sa.func.lower(users.c.display_name).like(escaped, escape="\\"))


async def search(conn: AsyncConnection, prefix: str, limit: int) -> list[User]:
    """People by name prefix; the support widget's visitors (guest accounts) are nobody's to find."""
    guest = sa.exists().where(support_accounts.c.user_id == users.c.id, support_accounts.c.kind == "guest")
    rows = await conn.execute(
        sa.select(*_USER_COLS)
        .where(users.c.disabled.is_(False), name_prefix(prefix), ~guest)
        .order_by(users.c.username_lower).limit(limit))
    return [_user(r) for r in rows]


async def update_user(conn: AsyncConnection, user_id: int, **values: object) -> None:
    await conn.execute(users.update().where(users.c.id == user_id).values(**values))


async def insert_session(conn: AsyncConnection, user_id: int, token_hash: bytes, now: int, expires_at: int) -> int:
    result = await conn.execute(sessions.insert().values(
        user_id=user_id, token_hash=token_hash, created_at=now, expires_at=expires_at).returning(sessions.c.id))
    return int(result.scalar_one())


async def session_user(conn: AsyncConnection, token_hash: bytes, now: int) -> tuple[User, Session] | None:
    owner = users.alias("owner")  # a bot (issue 12) works only while its owner's account does
    row = (await conn.execute(
        sa.select(*_USER_COLS, sessions.c.id.label("session_id"), sessions.c.expires_at)
        .join(users, users.c.id == sessions.c.user_id)
        .outerjoin(owner, owner.c.id == users.c.bot_owner_id)
        .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now, users.c.disabled.is_(False),
               sa.or_(users.c.bot_owner_id.is_(None), owner.c.disabled.is_(False)))
    )).one_or_none()
    if row is None:
        return None
    return _user(row), Session(row.session_id, row.id, row.expires_at)


async def delete_session(conn: AsyncConnection, session_id: int) -> None:
    await conn.execute(sessions.delete().where(sessions.c.id == session_id))


async def delete_sessions_of(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(sessions.delete().where(sessions.c.user_id == user_id))


async def revoke_all(conn: AsyncConnection, user_id: int, now: int) -> None:
    """Delete every session of the user and log it for every node, in the caller's transaction."""
    await delete_sessions_of(conn, user_id)
    await record_revocation(conn, user_id, 0, now)


async def live_sessions(conn: AsyncConnection, session_ids: list[int], now: int) -> set[int]:
    """Which of these sessions still exist, unexpired."""
    rows = await conn.execute(sa.select(sessions.c.id).where(sessions.c.id.in_(session_ids),
                                                             sessions.c.expires_at > now))
    return {r.id for r in rows}


async def record_revocation(conn: AsyncConnection, user_id: int, session_id: int, now: int) -> None:
    """Log a revocation (session_id 0: all of the user's sessions) in the caller's transaction,
    which also deletes the sessions. On PostgreSQL the ids must be committed in id order, or a
    node reading `id > last seen` could pass over one still in flight: a transaction lock held
    until commit serialises the (rare) revocations. SQLite has one writer anyway."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(7502)"))
    await conn.execute(revocations.insert().values(user_id=user_id, session_id=session_id, at=now))


async def revocation_head(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.max(revocations.c.id))) or 0)


async def revocations_after(conn: AsyncConnection, after: int, limit: int) -> list[tuple[int, int, int]]:
    """(id, user_id, session_id) of the revocations logged after `after`, in id order."""
    rows = await conn.execute(sa.select(revocations.c.id, revocations.c.user_id, revocations.c.session_id)
                              .where(revocations.c.id > after).order_by(revocations.c.id).limit(limit))
    return [(r.id, r.user_id, r.session_id) for r in rows]


async def prune_revocations(conn: AsyncConnection, before: int) -> None:
    await conn.execute(revocations.delete().where(revocations.c.at < before))
