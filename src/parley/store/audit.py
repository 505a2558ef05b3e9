"""The audit log's rows: written inside the transaction of the action they record, read newest first."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.audit import check_action
from parley.core.models import MemberState, Role
from parley.core.uploads import avatar_url
from parley.store.tables import audit_log, members, rooms, users

_actor, _target = users.alias("actor"), users.alias("target")


async def record(conn: AsyncConnection, *, actor_id: int | None, action: str, room_id: int | None = None,
                 target_id: int | None = None, reason: str = "", now: int,
                 data: dict[str, Any] | None = None) -> None:
    """One entry, in the caller's transaction: it commits (or not) with the action it records."""
    await conn.execute(audit_log.insert().values(
        ts=now, actor_id=actor_id, action=check_action(action), room_id=room_id, target_id=target_id,
        reason=reason, data=orjson.dumps(data).decode() if data else None))


async def administered_rooms(conn: AsyncConnection, user_id: int) -> list[int]:
    """The rooms the user has joined as an admin or owner."""
    rows = await conn.execute(sa.select(members.c.room_id).where(
        members.c.user_id == user_id, members.c.state == MemberState.JOINED.value,
        members.c.role >= int(Role.ADMIN)).order_by(members.c.room_id))
    return list(rows.scalars())


async def entries(conn: AsyncConnection, *, rooms_in: list[int] | None = None, room: int | None = None,
                  actor: int | None = None, action: str | None = None, before: int | None = None,
                  limit: int = 50) -> list[dict[str, Any]]:
    """Entries newest first (by id), as the API shows them; `rooms_in` limits them to those rooms.
    Each filter narrows an index range: room (ix_audit_log_room), actor (ix_audit_log_actor), or
    the primary key alone."""
    a = audit_log.c
    stmt = (sa.select(a.id, a.ts, a.action, a.room_id, a.reason, a.data, rooms.c.name.label("room_name"),
                      *(c.label(f"actor_{c.name}") for c in _people(_actor)),
                      *(c.label(f"target_{c.name}") for c in _people(_target)))
            .select_from(audit_log.outerjoin(rooms, rooms.c.id == audit_log.c.room_id)
                         .outerjoin(_actor, _actor.c.id == audit_log.c.actor_id)
                         .outerjoin(_target, _target.c.id == audit_log.c.target_id)))
    if rooms_in is not None:
        stmt = stmt.where(audit_log.c.room_id.in_(rooms_in))
    if room is not None:
        stmt = stmt.where(audit_log.c.room_id == room)
    if actor is not None:
        stmt = stmt.where(audit_log.c.actor_id == actor)
    if action is not None:
        stmt = stmt.where(audit_log.c.action == action)
    if before is not None:
        stmt = stmt.where(audit_log.c.id < before)
    rows = await conn.execute(stmt.order_by(audit_log.c.id.desc()).limit(limit))
    return [_view(r) for r in rows]


def _people(table: sa.Alias) -> tuple[sa.Column, ...]:
    return (table.c.id, table.c.username, table.c.display_name, table.c.avatar)


def _person(row: sa.Row, prefix: str) -> dict[str, Any] | None:
    person_id = getattr(row, f"{prefix}_id")
    if person_id is None:
        return None
    return {"id": person_id, "username": getattr(row, f"{prefix}_username"),
            "display_name": getattr(row, f"{prefix}_display_name"),
            "avatar_url": avatar_url(person_id, getattr(row, f"{prefix}_avatar"))}


def _view(row: sa.Row) -> dict[str, Any]:
    return {"id": row.id, "ts": row.ts, "actor": _person(row, "actor"), "action": row.action,
            "room": None if row.room_id is None else {"id": row.room_id, "name": row.room_name},
            "target": _person(row, "target"), "reason": row.reason,
            "data": orjson.loads(row.data) if row.data else {}}
