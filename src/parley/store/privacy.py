"""Privacy (issue 11): what a user's export reads, what deleting an account changes, and the
retention sweep's erasures. Each function runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.models import Event
from parley.store.events import COLUMNS, FROM, event_from_row
from parley.store.tables import events, members, message_versions, pins, reactions, rooms, uploads, users

EXPORT_PAGE = 500

# -- export --------------------------------------------------------------------------------------------


async def rooms_of(conn: AsyncConnection, user_id: int) -> list[dict[str, Any]]:
    """Every room the user is or was in (invitations too), with their role and state."""
    rows = await conn.execute(
        sa.select(rooms.c.id, rooms.c.kind, rooms.c.name, rooms.c.topic, rooms.c.visibility, members.c.role,
                  members.c.state, members.c.joined_seq, members.c.left_seq, members.c.updated_at)
        .join(members, members.c.room_id == rooms.c.id).where(members.c.user_id == user_id)
        .order_by(rooms.c.id))
    return [{str(k): v for k, v in r._mapping.items()} for r in rows]  # str: orjson refuses str subclasses


async def messages_of(conn: AsyncConnection, user_id: int) -> AsyncIterator[list[Event]]:
    """The user's messages, by room and seq, a page at a time (keyset on the event id)."""
    after = 0
    while True:
        rows = await conn.execute(
            sa.select(*COLUMNS).select_from(FROM)
            .where(events.c.sender_id == user_id, events.c.type == "message", events.c.id > after)
            .order_by(events.c.id).limit(EXPORT_PAGE))
        page = [event_from_row(r) for r in rows]
        if not page:
            return
        yield page
        after = page[-1].id


async def versions_of(conn: AsyncConnection, keys: list[tuple[int, int]]) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """Earlier texts of these (room, seq) messages, oldest first."""
    out: dict[tuple[int, int], list[dict[str, Any]]] = {}
    if not keys:
        return out
    wanted = sa.tuple_(message_versions.c.room_id, message_versions.c.seq).in_(keys)
    rows = await conn.execute(
        sa.select(message_versions.c.room_id, message_versions.c.seq, message_versions.c.text,
                  message_versions.c.written_at, message_versions.c.replaced_at)
        .where(wanted).order_by(message_versions.c.id))
    for r in rows:
        out.setdefault((r.room_id, r.seq), []).append(
            {"text": r.text, "written_at": r.written_at, "replaced_at": r.replaced_at})
    return out


async def reactions_of(conn: AsyncConnection, user_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(reactions.c.room_id.label("room"), reactions.c.seq, reactions.c.emoji, reactions.c.created_at)
        .where(reactions.c.user_id == user_id).order_by(reactions.c.room_id, reactions.c.seq, reactions.c.created_at))
    return [{str(k): v for k, v in r._mapping.items()} for r in rows]  # str: orjson refuses str subclasses


async def uploads_of(conn: AsyncConnection, user_id: int) -> list[tuple[int, int, str, int, str, str, int | None]]:
    """(id, room, name, size, content type, blob key, message seq) of the user's uploads."""
    rows = await conn.execute(
        sa.select(uploads.c.id, uploads.c.room_id, uploads.c.name, uploads.c.size, uploads.c.content_type,
                  uploads.c.blob, uploads.c.message_seq)
        .where(uploads.c.uploader_id == user_id).order_by(uploads.c.id))
    return [tuple(r) for r in rows]  # type: ignore[misc]


# -- deleting an account -------------------------------------------------------------------------------


async def anonymise(conn: AsyncConnection, user_id: int, *, username: str, display_name: str, now: int) -> str | None:
    """Turn the user's row into the placeholder its kept messages name: a name no one can register
    or log in as, no password, no avatar, no status, disabled. Returns the old avatar's blob key."""
    avatar = await conn.scalar(sa.select(users.c.avatar).where(users.c.id == user_id))
    await conn.execute(users.update().where(users.c.id == user_id).values(
        username=username, username_lower=username.lower(), display_name=display_name, password_hash="!",
        avatar=None, status="", disabled=True, is_admin=False, deleted_at=now))
    return avatar


async def memberships(conn: AsyncConnection, user_id: int) -> list[tuple[int, str]]:
    """(room id, state) of the user's joined and invited memberships, in room id order (the order
    rooms are locked in everywhere)."""
    rows = await conn.execute(sa.select(members.c.room_id, members.c.state).where(
        members.c.user_id == user_id, members.c.state.in_(("joined", "invited"))).order_by(members.c.room_id))
    return [(r.room_id, r.state) for r in rows]


async def live_messages_in(conn: AsyncConnection, room_id: int, user_id: int) -> list[tuple[int, dict[str, Any]]]:
    """(seq, data) of the user's messages in a room that are not tombstones yet."""
    rows = await conn.execute(sa.select(*COLUMNS).select_from(FROM).where(
        events.c.room_id == room_id, events.c.sender_id == user_id, events.c.type == "message"))
    found = (event_from_row(r) for r in rows)
    return [(e.seq, e.data) for e in found if not e.data.get("deleted")]


async def messages_in(conn: AsyncConnection, room_id: int, seqs: list[int]) -> list[tuple[int, dict[str, Any]]]:
    """(seq, data) of these messages of a room that are not tombstones yet."""
    rows = await conn.execute(sa.select(*COLUMNS).select_from(FROM).where(
        events.c.room_id == room_id, events.c.type == "message", events.c.seq.in_(seqs)))
    found = (event_from_row(r) for r in rows)
    return [(e.seq, e.data) for e in found if not e.data.get("deleted")]


async def rooms_with_messages(conn: AsyncConnection, user_id: int) -> list[int]:
    rows = await conn.execute(sa.select(events.c.room_id).where(
        events.c.sender_id == user_id, events.c.type == "message").distinct())
    return sorted(r[0] for r in rows)


async def remove_reactions(conn: AsyncConnection, user_id: int, room_id: int) -> list[tuple[int, str]]:
    """Remove the user's reactions in a room; (seq, emoji) of those removed."""
    rows = await conn.execute(reactions.delete().where(reactions.c.user_id == user_id, reactions.c.room_id == room_id)
                              .returning(reactions.c.seq, reactions.c.emoji))
    return sorted((r.seq, r.emoji) for r in rows)


async def rooms_with_reactions(conn: AsyncConnection, user_id: int) -> list[int]:
    rows = await conn.execute(sa.select(reactions.c.room_id).where(reactions.c.user_id == user_id).distinct())
    return sorted(r[0] for r in rows)


async def delete_uploads(conn: AsyncConnection, user_id: int) -> tuple[list[tuple[int, int]], list[str]]:
    """Remove the user's uploads. Returns the (room, seq) of the messages that carried some, and
    the blob keys that lost a reference (to collect after the commit)."""
    rows = (await conn.execute(uploads.delete().where(uploads.c.uploader_id == user_id)
                               .returning(uploads.c.room_id, uploads.c.message_seq, uploads.c.blob,
                                          uploads.c.thumb))).all()
    carried = sorted({(r.room_id, r.message_seq) for r in rows if r.message_seq is not None})
    return carried, sorted({k for r in rows for k in (r.blob, r.thumb) if k})


# -- rewriting messages in place (tombstones, files removed) -------------------------------------------

_REWRITE = events.update().where(events.c.room_id == sa.bindparam("w_room"), events.c.seq == sa.bindparam("w_seq")) \
    .values(text=sa.bindparam("w_text"), data=sa.bindparam("w_data"))


async def rewrite_many(conn: AsyncConnection, room_id: int, changes: list[tuple[int, dict[str, Any]]]) -> None:
    """Store new data for several messages of a room at once (as `store.actions.rewrite` does for one)."""
    if not changes:
        return
    params = []
    for seq, data in changes:
        rest = {k: v for k, v in data.items() if k != "text"}
        params.append({"w_room": room_id, "w_seq": seq, "w_text": data.get("text", ""),
                       "w_data": orjson.dumps(rest).decode() if rest else None})
    await conn.execute(_REWRITE, params)


async def erase_below(conn: AsyncConnection, room_id: int, before_seq: int) -> list[str]:
    """Erase what hangs off the room's messages below a seq: versions, reactions, pins, their files
    and their search index rows. Returns the blob keys that lost a reference."""
    for table in (message_versions, reactions, pins):
        await conn.execute(table.delete().where(table.c.room_id == room_id, table.c.seq < before_seq))
    key = "event_id" if conn.dialect.name == "postgresql" else "rowid"
    await conn.execute(sa.text(
        f"DELETE FROM message_search WHERE {key} IN (SELECT id FROM events WHERE room_id = :r AND seq < :b "
        "AND type = 'message')"), {"r": room_id, "b": before_seq})
    rows = await conn.execute(uploads.delete().where(uploads.c.room_id == room_id, uploads.c.message_seq < before_seq)
                              .returning(uploads.c.blob, uploads.c.thumb))
    return sorted({k for r in rows for k in r if k})


# -- retention -----------------------------------------------------------------------------------------


async def rooms_to_sweep(conn: AsyncConnection, default_days: int) -> list[tuple[int, int, int]]:
    """(room id, retention days, purged_seq) of the rooms whose messages expire."""
    days = sa.func.coalesce(rooms.c.retention_days, default_days)
    rows = await conn.execute(sa.select(rooms.c.id, days.label("days"), rooms.c.purged_seq)
                              .where(days > 0).order_by(rooms.c.id))
    return [(r.id, r.days, r.purged_seq) for r in rows]


async def purge_point(conn: AsyncConnection, room_id: int, after_seq: int, cutoff: int) -> int | None:
    """One past the last message at or after `after_seq` written before `cutoff`, or None."""
    last = await conn.scalar(sa.select(sa.func.max(events.c.seq)).where(
        events.c.room_id == room_id, events.c.type == "message", events.c.seq >= after_seq, events.c.ts < cutoff))
    return None if last is None else int(last) + 1


async def messages_between(conn: AsyncConnection, room_id: int, low: int, high: int) -> list[tuple[int, dict[str, Any]]]:
    """(seq, data) of the room's messages with low <= seq < high that are not tombstones yet."""
    rows = await conn.execute(sa.select(*COLUMNS).select_from(FROM).where(
        events.c.room_id == room_id, events.c.type == "message", events.c.seq >= low, events.c.seq < high))
    found = (event_from_row(r) for r in rows)
    return [(e.seq, e.data) for e in found if not e.data.get("deleted")]


async def purged(conn: AsyncConnection, room_id: int) -> int:
    return int(await conn.scalar(sa.select(rooms.c.purged_seq).where(rooms.c.id == room_id)) or 0)


async def set_purged(conn: AsyncConnection, room_id: int, before_seq: int) -> None:
    await conn.execute(rooms.update().where(rooms.c.id == room_id).values(purged_seq=before_seq))
