"""Bots and webhooks (issue 12): bot accounts, webhooks, the delivery queue, incoming hooks, commands."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.bots import Hook
from parley.store import events as event_store
from parley.store.tables import (
    bot_commands,
    bot_hooks,
    bot_webhooks,
    members,
    rooms,
    users,
    webhook_cursors,
    webhook_deliveries,
)
from parley.store.users import _USER_COLS, _user

NO_PASSWORD = "!bot"


def _plain(row: Any) -> dict[str, Any]:
    """A row as a dict with plain `str` keys (column names are a str subclass orjson refuses)."""
    return {str(k): v for k, v in row._mapping.items()}
  # no argon2 hash: no password ever matches it


async def insert_bot(conn: AsyncConnection, *, owner_id: int, username: str, display_name: str, now: int) -> Any:
    exists = await conn.scalar(sa.select(users.c.id).where(users.c.username_lower == username.lower()))
    if exists is not None:
        return None
    try:
        async with conn.begin_nested():
            result = await conn.execute(users.insert().values(
                username=username, username_lower=username.lower(), display_name=display_name,
                password_hash=NO_PASSWORD, is_admin=False, disabled=False, created_at=now, bot=True,
                bot_owner_id=owner_id).returning(*_USER_COLS))
    except sa.exc.IntegrityError:
        return None
    return _user(result.one())


async def bots_of(conn: AsyncConnection, owner_id: int) -> list[Any]:
    rows = await conn.execute(sa.select(*_USER_COLS).where(users.c.bot_owner_id == owner_id, users.c.bot.is_(True),
                                                           users.c.deleted_at.is_(None)).order_by(users.c.id))
    return [_user(r) for r in rows]


async def bot(conn: AsyncConnection, bot_id: int) -> Any:
    row = (await conn.execute(sa.select(*_USER_COLS).where(users.c.id == bot_id, users.c.bot.is_(True),
                                                           users.c.deleted_at.is_(None)))).one_or_none()
    return None if row is None else _user(row)


async def joined_rooms(conn: AsyncConnection, user_id: int) -> list[int]:
    rows = await conn.execute(sa.select(members.c.room_id).where(members.c.user_id == user_id,
                                                                 members.c.state == "joined"))
    return [r.room_id for r in rows]


# -- the dispatcher's cursors ---------------------------------------------------------------------------
async def ensure_cursor(conn: AsyncConnection, room_id: int) -> None:
    """Start matching a room's events from now on (a room a bot with webhooks just entered)."""
    if await conn.scalar(sa.select(webhook_cursors.c.seq).where(webhook_cursors.c.room_id == room_id)) is not None:
        return
    last = await conn.scalar(sa.select(rooms.c.last_seq).where(rooms.c.id == room_id))
    try:
        async with conn.begin_nested():
            await conn.execute(webhook_cursors.insert().values(room_id=room_id, seq=int(last or 0)))
    except sa.exc.IntegrityError:
        pass  # another transaction made it


async def pending_events(conn: AsyncConnection, limit: int) -> list[tuple[int, int, list[Any]]]:
    """(room, cursor, events above it) for rooms whose log went past their cursor."""
    behind = await conn.execute(sa.select(webhook_cursors.c.room_id, webhook_cursors.c.seq)
                                .join(rooms, rooms.c.id == webhook_cursors.c.room_id)
                                .where(rooms.c.last_seq > webhook_cursors.c.seq).limit(50))
    out = []
    for room_id, cursor in behind.all():
        rows = await conn.execute(sa.select(*event_store.COLUMNS).select_from(event_store.FROM)
                                  .where(event_store.events.c.room_id == room_id,
                                         event_store.events.c.seq > cursor)
                                  .order_by(event_store.events.c.seq).limit(limit))
        out.append((room_id, cursor, [event_store.event_from_row(r) for r in rows]))
    return out


async def advance_cursor(conn: AsyncConnection, room_id: int, old: int, new: int) -> bool:
    """Compare and set: False when another node moved it first (its deliveries then stand)."""
    result = await conn.execute(webhook_cursors.update().where(webhook_cursors.c.room_id == room_id,
                                                               webhook_cursors.c.seq == old).values(seq=new))
    return result.rowcount == 1


async def room_hooks(conn: AsyncConnection, room_id: int) -> tuple[bool, list[Hook], dict[int, frozenset[str]]]:
    """(is direct, webhooks of the bots joined in the room, commands per bot)."""
    kind = await conn.scalar(sa.select(rooms.c.kind).where(rooms.c.id == room_id))
    rows = await conn.execute(
        sa.select(bot_webhooks.c.id, bot_webhooks.c.bot_id, bot_webhooks.c.events, bot_webhooks.c.rooms)
        .join(members, sa.and_(members.c.user_id == bot_webhooks.c.bot_id, members.c.room_id == room_id))
        .join(users, users.c.id == bot_webhooks.c.bot_id)
        .where(members.c.state == "joined", users.c.disabled.is_(False)))
    hooks = [Hook(r.id, r.bot_id, frozenset(orjson.loads(r.events)),
                  None if r.rooms is None else frozenset(orjson.loads(r.rooms))) for r in rows]
    commands: dict[int, frozenset[str]] = {}
    if hooks:
        found = await conn.execute(sa.select(bot_commands.c.bot_id, bot_commands.c.name)
                                   .where(bot_commands.c.bot_id.in_({h.bot_id for h in hooks})))
        names: dict[int, set[str]] = {}
        for r in found:
            names.setdefault(r.bot_id, set()).add(r.name)
        commands = {k: frozenset(v) for k, v in names.items()}
    return kind == "direct", hooks, commands


# -- webhooks -------------------------------------------------------------------------------------------
async def insert_webhook(conn: AsyncConnection, *, bot_id: int, url: str, secret: str, events: list[str],
                         room_ids: list[int] | None, now: int) -> int:
    result = await conn.execute(bot_webhooks.insert().values(
        bot_id=bot_id, url=url, secret=secret, events=orjson.dumps(events).decode(),
        rooms=None if room_ids is None else orjson.dumps(room_ids).decode(), created_at=now)
        .returning(bot_webhooks.c.id))
    return int(result.scalar_one())


def _webhook_view(r: Any) -> dict[str, Any]:
    return {"id": r.id, "bot_id": r.bot_id, "url": r.url, "events": orjson.loads(r.events),
            "rooms": None if r.rooms is None else orjson.loads(r.rooms), "created_at": r.created_at}


async def webhooks_of(conn: AsyncConnection, bot_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(bot_webhooks).where(bot_webhooks.c.bot_id == bot_id)
                              .order_by(bot_webhooks.c.id))
    return [_webhook_view(r) for r in rows]


async def webhook(conn: AsyncConnection, webhook_id: int) -> Any:
    return (await conn.execute(sa.select(bot_webhooks).where(bot_webhooks.c.id == webhook_id))).one_or_none()


async def delete_webhook(conn: AsyncConnection, bot_id: int, webhook_id: int) -> bool:
    result = await conn.execute(bot_webhooks.delete().where(bot_webhooks.c.id == webhook_id,
                                                            bot_webhooks.c.bot_id == bot_id))
    return result.rowcount == 1


async def delete_bot_rows(conn: AsyncConnection, bot_id: int) -> None:
    for table in (bot_webhooks, bot_hooks, bot_commands):
        await conn.execute(table.delete().where(table.c.bot_id == bot_id))


# -- deliveries -----------------------------------------------------------------------------------------
async def enqueue(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(webhook_deliveries.insert(), rows)


async def prune(conn: AsyncConnection, before: int, limit: int) -> int:
    """Delete up to `limit` finished deliveries last updated before `before` (ms); how many."""
    d = webhook_deliveries.c
    old = (sa.select(d.id).where(d.state.in_(("done", "failed")), d.updated_at < before)
           .order_by(d.id).limit(limit).scalar_subquery())
    result = await conn.execute(webhook_deliveries.delete().where(d.id.in_(old)))
    return result.rowcount

async def due(conn: AsyncConnection, now: int, limit: int) -> list[Any]:
    rows = await conn.execute(
        sa.select(webhook_deliveries.c.id, webhook_deliveries.c.next_at)
        .where(webhook_deliveries.c.state == "pending", webhook_deliveries.c.next_at <= now)
        .order_by(webhook_deliveries.c.next_at).limit(limit))
    return rows.all()


async def claim(conn: AsyncConnection, delivery_id: int, seen_next_at: int, lease_until: int) -> Any:
    """Take a due delivery for one attempt (compare and set on `next_at`): the row, or None when another
    worker took it. The lease makes it due again should this process die mid-attempt."""
    result = await conn.execute(webhook_deliveries.update().where(
        webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.state == "pending",
        webhook_deliveries.c.next_at == seen_next_at).values(
        next_at=lease_until, attempts=webhook_deliveries.c.attempts + 1))
    if result.rowcount != 1:
        return None
    return (await conn.execute(
        sa.select(webhook_deliveries, bot_webhooks.c.url, bot_webhooks.c.secret, bot_webhooks.c.bot_id)
        .join(bot_webhooks, bot_webhooks.c.id == webhook_deliveries.c.webhook_id)
        .where(webhook_deliveries.c.id == delivery_id))).one_or_none()


async def finish(conn: AsyncConnection, delivery_id: int, *, state: str, status: int | None, error: str | None,
                 next_at: int, now: int) -> None:
    await conn.execute(webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(
        state=state, last_status=status, last_error=error, next_at=next_at, updated_at=now))


async def deliveries(conn: AsyncConnection, bot_id: int, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(webhook_deliveries.c.id, webhook_deliveries.c.webhook_id, webhook_deliveries.c.room_id,
                  webhook_deliveries.c.seq, webhook_deliveries.c.kind, webhook_deliveries.c.state,
                  webhook_deliveries.c.attempts, webhook_deliveries.c.next_at, webhook_deliveries.c.last_status,
                  webhook_deliveries.c.last_error, webhook_deliveries.c.created_at, webhook_deliveries.c.updated_at)
        .join(bot_webhooks, bot_webhooks.c.id == webhook_deliveries.c.webhook_id)
        .where(bot_webhooks.c.bot_id == bot_id).order_by(webhook_deliveries.c.id.desc()).limit(limit))
    return [_plain(r) for r in rows]


# -- incoming hooks -------------------------------------------------------------------------------------
async def insert_hook(conn: AsyncConnection, *, bot_id: int, room_id: int, secret_hash: bytes, now: int) -> int:
    result = await conn.execute(bot_hooks.insert().values(bot_id=bot_id, room_id=room_id, secret_hash=secret_hash,
                                                          created_at=now).returning(bot_hooks.c.id))
    return int(result.scalar_one())


async def hook(conn: AsyncConnection, hook_id: int) -> Any:
    return (await conn.execute(sa.select(bot_hooks).where(bot_hooks.c.id == hook_id))).one_or_none()


async def hooks_of(conn: AsyncConnection, bot_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(bot_hooks.c.id, bot_hooks.c.room_id, bot_hooks.c.created_at)
                              .where(bot_hooks.c.bot_id == bot_id).order_by(bot_hooks.c.id))
    return [_plain(r) for r in rows]


async def delete_hook(conn: AsyncConnection, bot_id: int, hook_id: int) -> bool:
    result = await conn.execute(bot_hooks.delete().where(bot_hooks.c.id == hook_id, bot_hooks.c.bot_id == bot_id))
    return result.rowcount == 1


# -- commands -------------------------------------------------------------------------------------------
async def set_commands(conn: AsyncConnection, bot_id: int, commands: list[dict[str, str]]) -> None:
    await conn.execute(bot_commands.delete().where(bot_commands.c.bot_id == bot_id))
    if commands:
        await conn.execute(bot_commands.insert(), [{"bot_id": bot_id, **c} for c in commands])


async def commands_of(conn: AsyncConnection, bot_id: int) -> list[dict[str, str]]:
    rows = await conn.execute(sa.select(bot_commands.c.name, bot_commands.c.description, bot_commands.c.usage)
                              .where(bot_commands.c.bot_id == bot_id).order_by(bot_commands.c.name))
    return [_plain(r) for r in rows]


async def room_commands(conn: AsyncConnection, room_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(bot_commands.c.name, bot_commands.c.description, bot_commands.c.usage, users.c.id,
                  users.c.username)
        .join(members, sa.and_(members.c.user_id == bot_commands.c.bot_id, members.c.room_id == room_id))
        .join(users, users.c.id == bot_commands.c.bot_id)
        .where(members.c.state == "joined", users.c.disabled.is_(False)).order_by(bot_commands.c.name))
    return [{"name": r.name, "description": r.description, "usage": r.usage,
             "bot": {"id": r.id, "username": r.username}} for r in rows]
