"""Who blocks whom (issue 11)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.models import MemberState
from parley.store.tables import blocks, members, users
from parley.store.users import public_columns, public_from


async def listed(conn: AsyncConnection, user_id: int) -> list[dict[str, Any]]:
    """The users `user_id` blocks, latest first: {user, created_at}."""
    person = users.alias("person")
    rows = await conn.execute(
        sa.select(*public_columns(person, "p"), blocks.c.created_at)
        .join(person, person.c.id == blocks.c.blocked_id).where(blocks.c.user_id == user_id)
        .order_by(blocks.c.created_at.desc(), person.c.id))
    return [{"user": public_from(r, "p"), "created_at": r.created_at} for r in rows]


async def blocked_ids(conn: AsyncConnection, user_id: int) -> list[int]:
    rows = await conn.execute(sa.select(blocks.c.blocked_id).where(blocks.c.user_id == user_id)
                              .order_by(blocks.c.blocked_id))
    return list(rows.scalars())


async def count(conn: AsyncConnection, user_id: int) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(blocks)
                                 .where(blocks.c.user_id == user_id)) or 0)


async def add(conn: AsyncConnection, user_id: int, blocked_id: int, now: int) -> bool:
    """Block; False when blocked already (a racing duplicate too)."""
    exists = await conn.scalar(sa.select(sa.func.count()).select_from(blocks).where(
        blocks.c.user_id == user_id, blocks.c.blocked_id == blocked_id))
    if exists:
        return False
    try:
        async with conn.begin_nested():
            await conn.execute(blocks.insert().values(user_id=user_id, blocked_id=blocked_id, created_at=now))
    except sa.exc.IntegrityError:
        return False
    return True


async def remove(conn: AsyncConnection, user_id: int, blocked_id: int) -> bool:
    result = await conn.execute(blocks.delete().where(blocks.c.user_id == user_id, blocks.c.blocked_id == blocked_id))
    return result.rowcount > 0


async def blocking(conn: AsyncConnection, user_ids: Iterable[int], blocked_id: int) -> list[int]:
    """Those of `user_ids` who block `blocked_id`."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return []
    rows = await conn.execute(sa.select(blocks.c.user_id).where(
        blocks.c.blocked_id == blocked_id, blocks.c.user_id.in_(wanted)))
    return sorted(rows.scalars())


async def blocked_in_room(conn: AsyncConnection, room_id: int, user_id: int) -> bool:
    """Whether a joined member of the room blocks `user_id` (for a direct chat: edits, reactions,
    pins and typing are refused as sends are)."""
    found = await conn.scalar(sa.select(blocks.c.user_id).join(members, members.c.user_id == blocks.c.user_id).where(
        members.c.room_id == room_id, members.c.state == MemberState.JOINED.value, blocks.c.blocked_id == user_id)
        .limit(1))
    return found is not None


# The send batch (store/messagelog.py), for its direct rooms only: (room, sender) pairs where a
# joined member of the room blocks the sender.
BLOCKED_IN_DIRECT_SQL = (
    "SELECT m.room_id, b.blocked_id FROM blocks b JOIN members m ON m.user_id = b.user_id "
    "WHERE m.state = 'joined' AND ")
