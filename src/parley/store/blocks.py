"""Who blocks whom (issue 11)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.uploads import avatar_url
from parley.store.tables import blocks, users


async def listed(conn: AsyncConnection, user_id: int) -> list[dict[str, Any]]:
    """The users `user_id` blocks, latest first: {user, created_at}."""
    rows = await conn.execute(
        sa.select(users.c.id, users.c.username, users.c.display_name, users.c.avatar, blocks.c.created_at)
        .join(users, users.c.id == blocks.c.blocked_id).where(blocks.c.user_id == user_id)
        .order_by(blocks.c.created_at.desc(), users.c.id))
    return [{"user": {"id": r.id, "username": r.username, "display_name": r.display_name,
                      "avatar_url": avatar_url(r.id, r.avatar)}, "created_at": r.created_at} for r in rows]


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


# The send batch (store/messagelog.py), for its direct rooms only: (room, sender) pairs where a
# joined member of the room blocks the sender.
BLOCKED_IN_DIRECT_SQL = (
    "SELECT m.room_id, b.blocked_id FROM blocks b JOIN members m ON m.user_id = b.user_id "
    "WHERE m.state = 'joined' AND ")
