"""Uploaded files: their rows, attaching them to messages, quotas and collection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.uploads import Upload
from parley.store.tables import uploads, users

COLUMNS = tuple(uploads.c[name] for name in (
    "id", "room_id", "uploader_id", "name", "size", "content_type", "blob", "thumb", "width", "height",
    "duration_ms", "waveform", "created_at", "message_seq"))
# The same, for the send batch's hand-written SQL.
SELECT_SQL = f"SELECT {', '.join(c.name for c in COLUMNS)} FROM uploads"


def upload_from_row(r: Sequence[Any]) -> Upload:
    return Upload(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                  orjson.loads(r[11]) if r[11] else None, r[12], r[13])


async def insert(conn: AsyncConnection, *, room_id: int, uploader_id: int, name: str, size: int,
                 content_type: str, blob: str, thumb: str | None, width: int | None, height: int | None,
                 duration_ms: int | None, waveform: list[int] | None, now: int) -> Upload:
    row = (await conn.execute(uploads.insert().values(
        room_id=room_id, uploader_id=uploader_id, name=name, size=size, content_type=content_type, blob=blob,
        thumb=thumb, width=width, height=height, duration_ms=duration_ms,
        waveform=orjson.dumps(waveform).decode() if waveform is not None else None, created_at=now,
    ).returning(*COLUMNS))).one()
    return upload_from_row(row)


async def get(conn: AsyncConnection, upload_id: int) -> Upload | None:
    row = (await conn.execute(sa.select(*COLUMNS).where(uploads.c.id == upload_id))).one_or_none()
    return None if row is None else upload_from_row(row)


async def used_bytes(conn: AsyncConnection, user_id: int) -> int:
    """What a user's uploads take, for the quota (an identical file counts each time)."""
    return int(await conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(uploads.c.size), 0))
                                 .where(uploads.c.uploader_id == user_id)) or 0)


async def of_room(conn: AsyncConnection, room_id: int, before: int | None, limit: int) -> list[Upload]:
    """The room's attached files, newest first (never those still waiting to be sent)."""
    stmt = sa.select(*COLUMNS).where(uploads.c.room_id == room_id, uploads.c.message_seq.is_not(None))
    if before is not None:
        stmt = stmt.where(uploads.c.id < before)
    rows = await conn.execute(stmt.order_by(uploads.c.id.desc()).limit(limit))
    return [upload_from_row(r) for r in rows]


def attach_sql(dialect: str) -> str:
    """Mark an upload attached to the message at seq (the send batch, in its transaction)."""
    if dialect == "postgresql":
        return "UPDATE uploads SET message_seq = $1 WHERE id = $2 AND message_seq IS NULL"
    return "UPDATE uploads SET message_seq = ? WHERE id = ? AND message_seq IS NULL"


async def erase_message(conn: AsyncConnection, room_id: int, seq: int) -> list[str]:
    """Forget the uploads of a deleted message, in the caller's transaction. Returns the blob keys
    that lost a reference: after the commit, `services.uploads.Uploads.collect_blobs(keys)`
    deletes those nothing refers to any more."""
    rows = await conn.execute(uploads.delete().where(uploads.c.room_id == room_id, uploads.c.message_seq == seq)
                              .returning(uploads.c.blob, uploads.c.thumb))
    return _keys(rows)


async def delete_unattached(conn: AsyncConnection, older_than: int, limit: int = 500) -> tuple[int, list[str]]:
    """Remove uploads never attached, created before `older_than`. Returns how many, and their
    blob keys."""
    ids = [r[0] for r in await conn.execute(
        sa.select(uploads.c.id).where(uploads.c.message_seq.is_(None), uploads.c.created_at < older_than)
        .order_by(uploads.c.id).limit(limit))]
    if not ids:
        return 0, []
    rows = (await conn.execute(uploads.delete().where(uploads.c.id.in_(ids), uploads.c.message_seq.is_(None))
                               .returning(uploads.c.blob, uploads.c.thumb))).all()
    return len(rows), _keys(rows)


def _keys(rows: Iterable[Any]) -> list[str]:
    return sorted({k for r in rows for k in r if k})


async def unreferenced(conn: AsyncConnection, keys: Iterable[str]) -> list[str]:
    """Which of these blob keys no upload and no avatar names."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    used = {r[0] for r in await conn.execute(sa.select(uploads.c.blob).where(uploads.c.blob.in_(wanted)))}
    used |= {r[0] for r in await conn.execute(sa.select(uploads.c.thumb).where(uploads.c.thumb.in_(wanted)))}
    used |= {r[0] for r in await conn.execute(sa.select(users.c.avatar).where(users.c.avatar.in_(wanted)))}
    return [k for k in wanted if k not in used]


async def set_avatar(conn: AsyncConnection, user_id: int, key: str | None) -> str | None:
    """Set a user's avatar blob; returns the previous key."""
    old = await conn.scalar(sa.select(users.c.avatar).where(users.c.id == user_id))
    await conn.execute(users.update().where(users.c.id == user_id).values(avatar=key))
    return old
