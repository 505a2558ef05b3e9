"""Room bans, mutes, and the messages a purge takes (issue 11). A ban or a mute that has ended
simply stops counting: every read compares its end with the time of the read, so nothing sweeps."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import events, members, room_bans, users
from parley.store.users import public_columns, public_from


def _active(now: int) -> sa.ColumnElement[bool]:
    return sa.or_(room_bans.c.until.is_(None), room_bans.c.until > now)


async def ban(conn: AsyncConnection, *, room_id: int, user_id: int, by: int, reason: str, until: int | None,
              now: int) -> None:
    """Ban, or replace the ban in force (a new end, a new reason)."""
    values = {"by": by, "reason": reason, "until": until, "created_at": now}
    result = await conn.execute(room_bans.update().where(
        room_bans.c.room_id == room_id, room_bans.c.user_id == user_id).values(**values))
    if result.rowcount == 0:
        await conn.execute(room_bans.insert().values(room_id=room_id, user_id=user_id, **values))


async def lift_ban(conn: AsyncConnection, room_id: int, user_id: int, now: int) -> bool:
    """Remove the user's ban; False if none was in force (an ended one is removed all the same)."""
    result = await conn.execute(room_bans.delete().where(
        room_bans.c.room_id == room_id, room_bans.c.user_id == user_id).returning(room_bans.c.until))
    ends = [r.until for r in result]
    return any(end is None or end > now for end in ends)


async def banned(conn: AsyncConnection, room_id: int, user_ids: list[int], now: int) -> dict[int, int | None]:
    """{user id: end of the ban (None: for good)} of those of `user_ids` banned from the room now."""
    if not user_ids:
        return {}
    rows = await conn.execute(sa.select(room_bans.c.user_id, room_bans.c.until).where(
        room_bans.c.room_id == room_id, room_bans.c.user_id.in_(user_ids), _active(now)))
    return {r.user_id: r.until for r in rows}


async def bans(conn: AsyncConnection, room_id: int, now: int) -> list[dict[str, Any]]:
    """The bans in force, latest first: `{user, by, reason, until, created_at}`."""
    banned_user, moderator = users.alias("banned_user"), users.alias("moderator")
    rows = await conn.execute(
        sa.select(room_bans.c.reason, room_bans.c.until, room_bans.c.created_at,
                  *public_columns(banned_user, "u"), *public_columns(moderator, "m"))
        .select_from(room_bans.join(banned_user, banned_user.c.id == room_bans.c.user_id)
                     .outerjoin(moderator, moderator.c.id == room_bans.c.by))
        .where(room_bans.c.room_id == room_id, _active(now))
        .order_by(room_bans.c.created_at.desc(), room_bans.c.user_id))
    return [{"user": public_from(r, "u"), "by": public_from(r, "m"), "reason": r.reason, "until": r.until,
             "created_at": r.created_at} for r in rows]


async def set_muted(conn: AsyncConnection, room_id: int, user_id: int, until: int | None) -> None:
    await conn.execute(members.update().where(members.c.room_id == room_id, members.c.user_id == user_id)
                       .values(muted_until=until))


# Event ids grow with time, give or take the clocks of several nodes: the search for the first
# recent id starts this much earlier, and `ts` decides exactly.
CLOCK_SLACK_MS = 60_000


async def recent_messages(conn: AsyncConnection, sender_id: int, since: int) -> dict[int, list[int]]:
    """{room id: seqs} of the sender's messages stored at or after `since` (ms), deleted ones included
    (the purge skips those as it reads them). `events` has no index on time or sender (it would
    cost every send): a binary search on the primary key finds where the recent part of the log
    starts, and only that part is read."""
    start = await _first_id_since(conn, since - CLOCK_SLACK_MS)
    rows = await conn.execute(
        sa.select(events.c.room_id, events.c.seq)
        .where(events.c.id >= start, events.c.sender_id == sender_id, events.c.type == "message",
               events.c.ts >= since)
        .order_by(events.c.room_id, events.c.seq))
    found: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        found[r.room_id].append(r.seq)
    return dict(found)


async def _first_id_since(conn: AsyncConnection, since: int) -> int:
    """The lowest event id whose `ts` is at or after `since`, by binary search over the ids (about
    log2(events) primary-key reads)."""
    bounds = (await conn.execute(sa.select(sa.func.min(events.c.id), sa.func.max(events.c.id)))).one()
    if bounds[0] is None:
        return 0
    lo, hi = int(bounds[0]), int(bounds[1]) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        row = (await conn.execute(sa.select(events.c.id, events.c.ts).where(events.c.id >= mid)
                                  .order_by(events.c.id).limit(1))).one_or_none()
        if row is None or row.ts >= since:
            hi = mid
        else:
            lo = row.id + 1
    return lo
