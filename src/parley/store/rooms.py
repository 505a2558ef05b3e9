"""Rooms, memberships and the per-room sequence."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.errors import Conflict
from parley.core.models import Membership, MemberState, PostPolicy, Role, Room, RoomKind, User, Visibility
from parley.store.tables import blocks, events, members, rooms, users

NAME_TAKEN = "a public room with that name exists already (names ignore case); choose another"
ROOM_COLUMNS = (rooms.c.id, rooms.c.kind, rooms.c.name, rooms.c.topic, rooms.c.visibility, rooms.c.archived,
              rooms.c.created_at, rooms.c.last_seq, rooms.c.slow_mode_s, rooms.c.post_policy,
              rooms.c.retention_days)


MEMBER_COLUMNS = (members.c.room_id, members.c.user_id, members.c.role, members.c.state, members.c.read_seq,
                  members.c.joined_seq, members.c.muted_until)


# The mappers read by position, so that the send batch's raw rows (sqlite3, asyncpg) use them too.
def room_from_row(r: Sequence[Any]) -> Room:
    """A row starting with ROOM_COLUMNS."""
    return Room(r[0], RoomKind(r[1]), r[2], r[3], Visibility(r[4]), bool(r[5]), r[6], r[7], r[8], PostPolicy(r[9]),
                r[10])


def membership_from_row(r: Sequence[Any]) -> Membership:
    """A row starting with MEMBER_COLUMNS."""
    return Membership(r[0], r[1], Role(r[2]), MemberState(r[3]), r[4], r[5], r[6])


async def insert_room(conn: AsyncConnection, *, kind: RoomKind, name: str, topic: str, visibility: Visibility,
                      creator_id: int, now: int, direct_key: str | None = None) -> Room | None:
    """Insert a room; None if a direct chat with this key was created meanwhile (another node).
    A public room whose name is taken, ignoring case, is a Conflict (the unique index decides,
    so two racing creations cannot both win)."""
    try:
        async with conn.begin_nested():
            result = await conn.execute(rooms.insert().values(
                kind=kind.value, name=name, topic=topic, visibility=visibility.value, archived=False,
                created_at=now, creator_id=creator_id, last_seq=0, direct_key=direct_key).returning(*ROOM_COLUMNS))
    except sa.exc.IntegrityError:
        if direct_key is None:
            raise Conflict(NAME_TAKEN) from None
        return None
    return room_from_row(result.one())


async def get(conn: AsyncConnection, room_id: int, *, lock: bool = False) -> Room | None:
    """A room; with lock=True its row stays locked until commit (PostgreSQL; SQLite's single
    writer already serialises), so membership changes of one room cannot interleave."""
    stmt = sa.select(*ROOM_COLUMNS).where(rooms.c.id == room_id)
    row = (await conn.execute(stmt.with_for_update() if lock else stmt)).one_or_none()
    return None if row is None else room_from_row(row)


async def by_direct_key(conn: AsyncConnection, key: str) -> Room | None:
    row = (await conn.execute(sa.select(*ROOM_COLUMNS).where(rooms.c.direct_key == key))).one_or_none()
    return None if row is None else room_from_row(row)


async def update(conn: AsyncConnection, room_id: int, **values: object) -> None:
    """Change a room's columns; a public name taken, ignoring case, is a Conflict."""
    try:
        async with conn.begin_nested():  # PostgreSQL: the failed statement must not doom the transaction
            await conn.execute(rooms.update().where(rooms.c.id == room_id).values(**values))
    except sa.exc.IntegrityError:
        raise Conflict(NAME_TAKEN) from None


async def membership(conn: AsyncConnection, room_id: int, user_id: int) -> Membership | None:
    row = (await conn.execute(sa.select(*MEMBER_COLUMNS).where(
        members.c.room_id == room_id, members.c.user_id == user_id))).one_or_none()
    return None if row is None else membership_from_row(row)


async def memberships(conn: AsyncConnection, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Membership]:
    """Memberships for many (room_id, user_id) pairs in one query."""
    by_room: dict[int, set[int]] = defaultdict(set)
    for room_id, user_id in pairs:
        by_room[room_id].add(user_id)
    if not by_room:
        return {}
    # One primary-key search per room; SQLite would scan the table for a row-value IN.
    rows = await conn.execute(sa.select(*MEMBER_COLUMNS).where(sa.or_(*(
        sa.and_(members.c.room_id == room_id, members.c.user_id.in_(sorted(users)))
        for room_id, users in sorted(by_room.items())))))
    return {(r.room_id, r.user_id): membership_from_row(r) for r in rows}


async def upsert_member(conn: AsyncConnection, *, room_id: int, user_id: int, role: Role, state: MemberState,
                        joined_seq: int, read_seq: int, now: int) -> None:
    values = {"role": int(role), "state": state.value, "joined_seq": joined_seq, "read_seq": read_seq,
              "updated_at": now}
    result = await conn.execute(members.update().where(
        members.c.room_id == room_id, members.c.user_id == user_id).values(**values))
    if result.rowcount == 0:
        await conn.execute(members.insert().values(room_id=room_id, user_id=user_id, **values))


async def other_members(conn: AsyncConnection, room_id: int, user_id: int) -> tuple[int, int]:
    """(joined members other than `user_id`, how many of them are owners)."""
    row = (await conn.execute(
        sa.select(sa.func.count(), sa.func.count().filter(members.c.role == int(Role.OWNER)))
        .where(members.c.room_id == room_id, members.c.user_id != user_id,
               members.c.state == MemberState.JOINED.value))).one()
    return int(row[0]), int(row[1])


async def sharing(conn: AsyncConnection, user_id: int) -> list[int]:
    """Every user joined to a room where `user_id` is joined or invited (a member list shows the
    invited too), `user_id` included."""
    theirs = (sa.select(members.c.room_id)
              .where(members.c.user_id == user_id,
                     members.c.state.in_([MemberState.JOINED.value, MemberState.INVITED.value])))
    rows = await conn.execute(
        sa.select(members.c.user_id).distinct()
        .where(members.c.room_id.in_(theirs), members.c.state == MemberState.JOINED.value))
    return sorted({user_id, *(r.user_id for r in rows)})


async def set_state(conn: AsyncConnection, room_id: int, user_id: int, state: MemberState, now: int,
                    left_seq: int | None = None) -> None:
    """Change a membership's state; `left_seq`, when given, is the seq up to which a member who left
    may still search the room."""
    values: dict[str, object] = {"state": state.value, "updated_at": now}
    if left_seq is not None:
        values["left_seq"] = left_seq
    await conn.execute(members.update().where(members.c.room_id == room_id, members.c.user_id == user_id)
                       .values(**values))


async def left_seq(conn: AsyncConnection, room_id: int, user_id: int) -> int:
    """The seq up to which a member who left may still read the room (0: nothing)."""
    return int(await conn.scalar(sa.select(members.c.left_seq).where(
        members.c.room_id == room_id, members.c.user_id == user_id)) or 0)


async def forget_reads(conn: AsyncConnection, room_id: int, user_id: int) -> None:
    """A kick or a ban: the member removed reads nothing of the room any more (history and search)."""
    await conn.execute(members.update().where(members.c.room_id == room_id, members.c.user_id == user_id)
                       .values(left_seq=0))


async def set_role(conn: AsyncConnection, room_id: int, user_id: int, role: Role, now: int) -> None:
    await conn.execute(members.update().where(members.c.room_id == room_id, members.c.user_id == user_id)
                       .values(role=int(role), updated_at=now))


async def advance_read(conn: AsyncConnection, room_id: int, user_id: int, seq: int) -> tuple[int, bool]:
    """Move the read marker forward only; returns the marker as stored, and whether it moved."""
    result = await conn.execute(members.update().where(
        members.c.room_id == room_id, members.c.user_id == user_id, members.c.read_seq < seq).values(read_seq=seq))
    stored = int(await conn.scalar(sa.select(members.c.read_seq).where(
        members.c.room_id == room_id, members.c.user_id == user_id)) or 0)
    return stored, result.rowcount > 0


def _member_count() -> sa.ScalarSelect:
    counted = members.alias("counted")
    return (sa.select(sa.func.count()).select_from(counted)
            .where(counted.c.room_id == rooms.c.id, counted.c.state == MemberState.JOINED.value)
            .correlate(rooms).scalar_subquery())


# A message's `data` holds `{"mentions": [user ids]}`, resolved when it was stored; the same test
# in each database's JSON functions.
# `@room`/`@here` (`mentions_room`) and a thread's participants count as mentions too (issue 10).
_MENTIONS_ME = {
    "sqlite": "(EXISTS (SELECT 1 FROM json_each(events.data, '$.mentions') AS m WHERE m.value = :mentioned) "
              "OR json_extract(events.data, '$.mentions_room') = 1 "
              "OR EXISTS (SELECT 1 FROM json_each(events.data, '$.thread_participants') AS p "
              "WHERE p.value = :mentioned))",
    "postgresql": "((CAST(events.data AS jsonb) -> 'mentions') @> jsonb_build_array(CAST(:mentioned AS bigint)) "
                  "OR (CAST(events.data AS jsonb) -> 'mentions_room') = 'true'::jsonb "
                  "OR (CAST(events.data AS jsonb) -> 'thread_participants') "
                  "@> jsonb_build_array(CAST(:mentioned AS bigint)))",
}


def _unread_count(user_id: int, mentions_in: str | None = None, upto: int | None = None) -> sa.ScalarSelect:
    """Messages from others after the member's read marker (up to seq `upto` when given); with
    `mentions_in` (the dialect's name), only those that mention the member."""
    stmt = (sa.select(sa.func.count()).select_from(events)
            .where(events.c.room_id == members.c.room_id, events.c.seq > members.c.read_seq,
                   events.c.type == "message", sa.or_(events.c.sender_id.is_(None), events.c.sender_id != user_id)))
    if upto is not None:
        stmt = stmt.where(events.c.seq <= upto)
    if mentions_in is not None:  # a mention by someone the member blocks does not count (issue 11)
        blocked = sa.select(blocks.c.blocked_id).where(blocks.c.user_id == user_id)
        stmt = stmt.where(events.c.data.is_not(None),
                          sa.text(_MENTIONS_ME[mentions_in]).bindparams(mentioned=user_id),
                          sa.or_(events.c.sender_id.is_(None), events.c.sender_id.not_in(blocked)))
    return stmt.scalar_subquery()


async def unread(conn: AsyncConnection, room_id: int, user: User, upto: int | None = None) -> tuple[int, int]:
    """(unread messages, unread messages that mention the user) of a joined member; `upto`: the
    room's last seq as the caller read it, so that the counts agree with it (a message committed
    between the two reads is counted by the client when its event arrives, not twice)."""
    row = (await conn.execute(
        sa.select(_unread_count(user.id, upto=upto).label("unread"),
                  _unread_count(user.id, conn.dialect.name, upto).label("mentions"))
        .select_from(members).where(members.c.room_id == room_id, members.c.user_id == user.id,
                                    members.c.state == MemberState.JOINED.value))).one_or_none()
    return (0, 0) if row is None else (row.unread, row.mentions)


async def rooms_of(conn: AsyncConnection, user: User) -> list[tuple[Room, Membership, int, tuple[int, int]]]:
    """Rooms the user is joined to or invited to, with membership, member count and
    (unread, mentions) counts."""
    user_id = user.id
    rows = await conn.execute(
        sa.select(*ROOM_COLUMNS, *MEMBER_COLUMNS, _member_count().label("member_count"),
                  _unread_count(user_id).label("unread"),
                  _unread_count(user_id, conn.dialect.name).label("mentions"))
        .join(members, members.c.room_id == rooms.c.id)
        .where(members.c.user_id == user_id,
               members.c.state.in_([MemberState.JOINED.value, MemberState.INVITED.value]))
        .order_by(rooms.c.last_seq.desc(), rooms.c.id))
    return [(room_from_row(r), membership_from_row(r[len(ROOM_COLUMNS):]), r.member_count, (r.unread, r.mentions)) for r in rows]


async def joined_cursors(conn: AsyncConnection, user_id: int) -> dict[int, tuple[int, int]]:
    """{room_id: (last_seq, joined_seq)} of every room the user is joined to."""
    rows = await conn.execute(
        sa.select(rooms.c.id, rooms.c.last_seq, members.c.joined_seq)
        .join(members, members.c.room_id == rooms.c.id)
        .where(members.c.user_id == user_id, members.c.state == MemberState.JOINED.value))
    return {r.id: (r.last_seq, r.joined_seq) for r in rows}


async def last_seqs(conn: AsyncConnection, room_ids: Iterable[int]) -> dict[int, int]:
    rows = await conn.execute(sa.select(rooms.c.id, rooms.c.last_seq).where(rooms.c.id.in_(list(room_ids))))
    return {r.id: r.last_seq for r in rows}


async def public_rooms(conn: AsyncConnection, query: str, limit: int) -> list[tuple[Room, int]]:
    stmt = (sa.select(*ROOM_COLUMNS, _member_count().label("member_count"))
            .where(rooms.c.visibility == Visibility.PUBLIC.value, rooms.c.kind == RoomKind.ROOM.value,
                   rooms.c.archived.is_(False)))
    if query:
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(sa.func.lower(rooms.c.name).like(f"%{escaped}%", escape="\\"))
    rows = await conn.execute(stmt.order_by(sa.desc("member_count"), rooms.c.id).limit(limit))
    return [(room_from_row(r), r.member_count) for r in rows]


async def member_count(conn: AsyncConnection, room_id: int) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(members).where(
        members.c.room_id == room_id, members.c.state == MemberState.JOINED.value)) or 0)


async def member_list(conn: AsyncConnection, room_id: int,
                      states: tuple[MemberState, ...]) -> list[tuple[User, Membership]]:
    rows = await conn.execute(
        sa.select(*MEMBER_COLUMNS, users.c.username, users.c.display_name, users.c.is_admin, users.c.disabled,
                  users.c.created_at, users.c.avatar, users.c.status, users.c.bot, users.c.bot_owner_id)
        .join(users, users.c.id == members.c.user_id)
        .where(members.c.room_id == room_id, members.c.state.in_([s.value for s in states]))
        .order_by(members.c.role.desc(), users.c.username_lower))
    return [(User(r.user_id, r.username, r.display_name, bool(r.is_admin), bool(r.disabled), r.created_at,
                  r.avatar, r.status, bool(r.bot), r.bot_owner_id), membership_from_row(r)) for r in rows]
