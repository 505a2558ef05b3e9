"""The room logs: append and read events by (room, seq)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.models import Event, EventType
from parley.store.tables import events, users

_COLS = (events.c.id, events.c.room_id, events.c.seq, events.c.type, events.c.ts, events.c.client_msg_id,
         events.c.text, events.c.data, events.c.sender_id, users.c.username, users.c.display_name)
_FROM = events.outerjoin(users, users.c.id == events.c.sender_id)


def _event(row: sa.Row) -> Event:
    data: dict[str, Any] = orjson.loads(row.data) if row.data else {}
    if row.text is not None:
        data["text"] = row.text
    sender = None if row.sender_id is None else {
        "id": row.sender_id, "username": row.username, "display_name": row.display_name}
    return Event(row.id, row.room_id, row.seq, EventType(row.type), row.ts, sender, data, row.client_msg_id)


def row_for(room_id: int, seq: int, type_: EventType, ts: int, sender_id: int | None,
            data: dict[str, Any] | None = None, text: str | None = None,
            client_msg_id: str | None = None) -> dict[str, Any]:
    return {"room_id": room_id, "seq": seq, "type": type_.value, "ts": ts, "sender_id": sender_id,
            "client_msg_id": client_msg_id, "text": text,
            "data": orjson.dumps(data).decode() if data else None}


async def insert(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert event rows; returns their ids in the order given.

    RETURNING rows are matched to the input by (room_id, seq), not by position: asking
    SQLAlchemy to keep parameter order makes it insert row by row on SQLite."""
    if not rows:
        return []
    result = await conn.execute(events.insert().returning(events.c.id, events.c.room_id, events.c.seq), list(rows))
    ids = {(r.room_id, r.seq): r.id for r in result}
    return [ids[(row["room_id"], row["seq"])] for row in rows]


async def after(conn: AsyncConnection, room_id: int, seq: int, limit: int) -> list[Event]:
    rows = await conn.execute(sa.select(*_COLS).select_from(_FROM)
                              .where(events.c.room_id == room_id, events.c.seq > seq)
                              .order_by(events.c.seq).limit(limit))
    return [_event(r) for r in rows]


async def before(conn: AsyncConnection, room_id: int, seq: int | None, limit: int, floor: int = 0) -> list[Event]:
    """The `limit` events just before `seq` (or the latest), above `floor`, oldest first."""
    stmt = sa.select(*_COLS).select_from(_FROM).where(events.c.room_id == room_id, events.c.seq > floor)
    if seq is not None:
        stmt = stmt.where(events.c.seq < seq)
    rows = await conn.execute(stmt.order_by(events.c.seq.desc()).limit(limit))
    return [_event(r) for r in reversed(rows.all())]
