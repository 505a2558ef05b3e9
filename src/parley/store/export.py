"""The export cursor over the room logs (issue 12): which rooms are ahead of it, their events past
it, moving it once the destination confirmed, and the lease that lets one node at a time do so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.export import Pending
from parley.core.models import Event
from parley.store.events import COLUMNS, FROM, event_from_row
from parley.store.tables import events, export_cursors, export_lease, rooms

LEASE_ID = 1
_cursor = sa.func.coalesce(export_cursors.c.seq, 0)


class LostLease(Exception):
    """Another node holds the export lease now: this one must stop moving the cursor."""


async def pending(conn: AsyncConnection, room_ids: Sequence[int] | None = None) -> list[Pending]:
    """Rooms whose `last_seq` is past their export cursor (all of them, or among `room_ids`)."""
    q = (sa.select(rooms.c.id, rooms.c.last_seq, _cursor)
         .select_from(rooms.outerjoin(export_cursors, export_cursors.c.room_id == rooms.c.id))
         .where(rooms.c.last_seq > _cursor))
    if room_ids is not None:
        q = q.where(rooms.c.id.in_(sorted(set(room_ids))))
    return [Pending(r[0], r[1], r[2]) for r in (await conn.execute(q)).all()]


async def backlog(conn: AsyncConnection) -> tuple[int, int]:
    """(rooms behind, events behind) over the whole server."""
    q = (sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(rooms.c.last_seq - _cursor), 0))
         .select_from(rooms.outerjoin(export_cursors, export_cursors.c.room_id == rooms.c.id))
         .where(rooms.c.last_seq > _cursor))
    count, behind = (await conn.execute(q)).one()
    return int(count), int(behind)


async def read(conn: AsyncConnection, room_ids: Sequence[int], per_room: int) -> list[Event]:
    """Up to `per_room` events of each room past its cursor, by room then seq."""
    q = (sa.select(*COLUMNS)
         .select_from(FROM.outerjoin(export_cursors, export_cursors.c.room_id == events.c.room_id))
         .where(events.c.room_id.in_(sorted(room_ids)), events.c.seq > _cursor, events.c.seq <= _cursor + per_room)
         .order_by(events.c.room_id, events.c.seq))
    return [event_from_row(r) for r in (await conn.execute(q)).all()]


async def advance(conn: AsyncConnection, cursors: Mapping[int, int], holder: str, now: int, lease_ms: int) -> None:
    """Move the cursors (room -> last confirmed seq), only forward, and renew the lease, in the
    caller's transaction; LostLease (nothing moved) if `holder` no longer holds it."""
    if not await _renew(conn, holder, now, lease_ms):
        raise LostLease
    if not cursors:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(export_cursors).values([{"room_id": room, "seq": seq, "updated_at": now}
                                          for room, seq in sorted(cursors.items())])
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=[export_cursors.c.room_id],
        set_={"seq": stmt.excluded.seq, "updated_at": stmt.excluded.updated_at},
        where=export_cursors.c.seq < stmt.excluded.seq))


async def claim(conn: AsyncConnection, holder: str, now: int, lease_ms: int) -> bool:
    """Take the lease if it is free, expired or already ours (renewing it); True if we hold it."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(insert(export_lease).values(id=LEASE_ID, holder="", until=0)
                       .on_conflict_do_nothing(index_elements=[export_lease.c.id]))
    done = await conn.execute(
        export_lease.update()
        .where(export_lease.c.id == LEASE_ID, sa.or_(export_lease.c.holder == holder, export_lease.c.until < now))
        .values(holder=holder, until=now + lease_ms))
    return done.rowcount == 1


async def _renew(conn: AsyncConnection, holder: str, now: int, lease_ms: int) -> bool:
    done = await conn.execute(export_lease.update()
                              .where(export_lease.c.id == LEASE_ID, export_lease.c.holder == holder)
                              .values(until=now + lease_ms))
    return done.rowcount == 1


async def release(conn: AsyncConnection, holder: str) -> None:
    """Give the lease up at a clean stop, so another node takes over at once."""
    await conn.execute(export_lease.update().where(export_lease.c.id == LEASE_ID, export_lease.c.holder == holder)
                       .values(until=0))


async def lease(conn: AsyncConnection) -> tuple[str, int] | None:
    row = (await conn.execute(sa.select(export_lease.c.holder, export_lease.c.until)
                              .where(export_lease.c.id == LEASE_ID))).first()
    return None if row is None else (row[0], row[1])


async def cursors(conn: AsyncConnection) -> dict[int, int]:
    """Every room's export cursor (rooms never exported have none: 0)."""
    return {r[0]: r[1] for r in (await conn.execute(sa.select(export_cursors.c.room_id, export_cursors.c.seq))).all()}
