"""Server administration: users and rooms for the admin's lists, server settings, invite codes and
the console's figures. The same SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.models import MemberState, Role, Room, RoomKind, User
from parley.store.rooms import ROOM_COLUMNS, room_from_row
from parley.store.tables import events, invites, members, rooms, server_settings, sessions, users
from parley.store.users import _USER_COLS, _user, escape_like, name_prefix

# -- users ------------------------------------------------------------------------------------------


async def users_page(conn: AsyncConnection, q: str, before: int | None,
                     limit: int) -> list[tuple[User, int, int | None]]:
    """Users newest first (by id, below `before`), whose username or display name starts with `q`;
    each with the rooms (not direct chats) they are joined to and their latest login still valid."""
    joined = (sa.select(sa.func.count()).select_from(members.join(rooms, rooms.c.id == members.c.room_id))
              .where(members.c.user_id == users.c.id, members.c.state == MemberState.JOINED.value,
                     rooms.c.kind == RoomKind.ROOM.value).correlate(users).scalar_subquery())
    login = (sa.select(sa.func.max(sessions.c.created_at)).where(sessions.c.user_id == users.c.id)
             .correlate(users).scalar_subquery())
    stmt = sa.select(*_USER_COLS, joined.label("rooms"), login.label("last_login"))
    if q:
        stmt = stmt.where(name_prefix(q))
    if before is not None:
        stmt = stmt.where(users.c.id < before)
    rows = await conn.execute(stmt.order_by(users.c.id.desc()).limit(limit))
    return [(_user(r), int(r.rooms), r.last_login) for r in rows]


async def lock_admins(conn: AsyncConnection) -> None:
    """Serialise changes to who is an enabled admin (PostgreSQL; SQLite has one writer), so that two
    admins removing each other cannot both pass the last-admin check."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(7503)"))


async def enabled_admins_except(conn: AsyncConnection, user_id: int) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(users).where(
        users.c.is_admin.is_(True), users.c.disabled.is_(False), users.c.id != user_id)) or 0)


# -- rooms ------------------------------------------------------------------------------------------


async def rooms_page(conn: AsyncConnection, q: str, before: int | None,
                     limit: int) -> list[tuple[Room, int, list[User], int | None]]:
    """Every room (public, private, archived; never a direct chat) newest first, whose name holds
    `q` ignoring case; with its joined members, its owners and the time of its latest event."""
    counted = members.alias("counted")
    count = (sa.select(sa.func.count()).select_from(counted)
             .where(counted.c.room_id == rooms.c.id, counted.c.state == MemberState.JOINED.value)
             .correlate(rooms).scalar_subquery())
    latest = (sa.select(events.c.ts).where(events.c.room_id == rooms.c.id, events.c.seq == rooms.c.last_seq)
              .correlate(rooms).scalar_subquery())
    stmt = (sa.select(*ROOM_COLUMNS, count.label("member_count"), latest.label("last_activity"))
            .where(rooms.c.kind == RoomKind.ROOM.value))
    if q:
        stmt = stmt.where(sa.func.lower(rooms.c.name).like(f"%{escape_like(q)}%", escape="\\"))
    if before is not None:
        stmt = stmt.where(rooms.c.id < before)
    rows = list(await conn.execute(stmt.order_by(rooms.c.id.desc()).limit(limit)))
    owners = await _owners(conn, [r.id for r in rows])
    return [(room_from_row(r), int(r.member_count), owners.get(r.id, []), r.last_activity) for r in rows]


async def _owners(conn: AsyncConnection, room_ids: list[int]) -> dict[int, list[User]]:
    if not room_ids:
        return {}
    rows = await conn.execute(
        sa.select(members.c.room_id, *_USER_COLS).join(users, users.c.id == members.c.user_id)
        .where(members.c.room_id.in_(room_ids), members.c.role == int(Role.OWNER),
               members.c.state == MemberState.JOINED.value).order_by(users.c.id))
    found: dict[int, list[User]] = {}
    for r in rows:
        found.setdefault(r.room_id, []).append(_user(r))
    return found


# -- server settings --------------------------------------------------------------------------------


async def setting(conn: AsyncConnection, key: str) -> str | None:
    return await conn.scalar(sa.select(server_settings.c.value).where(server_settings.c.key == key))


async def set_setting(conn: AsyncConnection, key: str, value: str, now: int) -> None:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(server_settings).values(key=key, value=value, updated_at=now)
    await conn.execute(stmt.on_conflict_do_update(index_elements=[server_settings.c.key],
                                                  set_={"value": value, "updated_at": now}))


# -- invite codes -----------------------------------------------------------------------------------

_INVITE_COLS = (invites.c.code, invites.c.uses, invites.c.used, invites.c.expires_at, invites.c.created_at,
                users.c.id.label("creator_id"), users.c.username, users.c.display_name, users.c.avatar)


async def insert_invite(conn: AsyncConnection, *, code: str, uses: int, expires_at: int, created_by: int | None,
                        now: int) -> None:
    await conn.execute(invites.insert().values(code=code, uses=uses, used=0, expires_at=expires_at,
                                               created_by=created_by, created_at=now))


async def invite_list(conn: AsyncConnection, *, code: str | None = None, limit: int = 200) -> list[sa.Row]:
    """Invite codes, newest first, with their creator's columns (null when deleted or the CLI)."""
    stmt = sa.select(*_INVITE_COLS).select_from(invites.outerjoin(users, users.c.id == invites.c.created_by))
    if code is not None:
        stmt = stmt.where(invites.c.code == code)
    return list(await conn.execute(stmt.order_by(invites.c.created_at.desc(), invites.c.code).limit(limit)))


async def open_invites(conn: AsyncConnection, now: int) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(invites).where(
        invites.c.used < invites.c.uses, invites.c.expires_at > now)) or 0)


async def delete_invite(conn: AsyncConnection, code: str) -> bool:
    return (await conn.execute(invites.delete().where(invites.c.code == code))).rowcount > 0


async def consume_invite(conn: AsyncConnection, code: str, now: int) -> bool:
    """Spend one use of a code, if it has one left and has not expired. One conditional UPDATE: on
    PostgreSQL a concurrent registration waits for this row's lock and re-checks `used < uses`
    against the committed count, so two registrations can never both take a code's last use."""
    result = await conn.execute(invites.update().where(
        invites.c.code == code, invites.c.used < invites.c.uses, invites.c.expires_at > now)
        .values(used=invites.c.used + 1))
    return result.rowcount == 1


async def invite_state(conn: AsyncConnection, code: str) -> tuple[int, int, int] | None:
    row = (await conn.execute(sa.select(invites.c.uses, invites.c.used, invites.c.expires_at)
                              .where(invites.c.code == code))).one_or_none()
    return None if row is None else (row.uses, row.used, row.expires_at)


# -- figures ----------------------------------------------------------------------------------------


async def stats(conn: AsyncConnection, since: int) -> dict[str, Any]:
    """Counts for the console. Messages since `since` without an index on `ts`: event ids grow with
    time, so the first event at or after `since` is found by bisecting ids (a primary-key lookup
    each), then only that range of the log is counted."""
    u = (await conn.execute(sa.select(
        sa.func.count(), sa.func.count().filter(users.c.disabled.is_(True)),
        sa.func.count().filter(users.c.is_admin.is_(True), users.c.disabled.is_(False))))).one()
    r = (await conn.execute(sa.select(sa.func.count(), sa.func.count().filter(rooms.c.archived.is_(True)))
                            .where(rooms.c.kind == RoomKind.ROOM.value))).one()
    first = await _first_event_since(conn, since)
    today = 0 if first is None else int(await conn.scalar(
        sa.select(sa.func.count()).select_from(events).where(events.c.id >= first, events.c.type == "message"))
        or 0)
    return {"users": int(u[0]), "disabled_users": int(u[1]), "admins": int(u[2]), "rooms": int(r[0]),
            "archived_rooms": int(r[1]), "direct_chats": await _direct_chats(conn), "messages_today": today}


async def _direct_chats(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(rooms)
                                 .where(rooms.c.kind == RoomKind.DIRECT.value)) or 0)


async def _first_event_since(conn: AsyncConnection, since: int) -> int | None:
    async def ts_from(event_id: int) -> int:
        return int(await conn.scalar(sa.select(events.c.ts).where(events.c.id >= event_id)
                                     .order_by(events.c.id).limit(1)) or 0)

    low, high = (await conn.execute(sa.select(sa.func.min(events.c.id), sa.func.max(events.c.id)))).one()
    if high is None or await ts_from(high) < since:
        return None
    while low < high:
        middle = (low + high) // 2
        if await ts_from(middle) >= since:
            high = middle
        else:
            low = middle + 1
    return int(low)
