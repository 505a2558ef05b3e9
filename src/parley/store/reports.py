"""Reports of messages (issue 11): stored one per reporter per message, read by who may handle them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.models import Event, MemberState, Role
from parley.store.events import COLUMNS, FROM, event_from_row
from parley.store.tables import events, members, reports, rooms, users
from parley.store.users import public_columns, public_from

_COLUMNS = (reports.c.id, reports.c.room_id, reports.c.seq, reports.c.sender_id, reports.c.reporter_id,
            reports.c.reason, reports.c.note, reports.c.snippet, reports.c.state, reports.c.created_at,
            reports.c.resolved_by, reports.c.action, reports.c.resolution_note, reports.c.resolved_at)


@dataclass(frozen=True, slots=True)
class ReportRow:
    id: int
    room_id: int
    seq: int
    sender_id: int | None
    reporter_id: int
    reason: str
    note: str
    snippet: str
    state: str
    created_at: int
    resolved_by: int | None
    action: str | None
    resolution_note: str
    resolved_at: int | None


def _row(r: sa.Row) -> ReportRow:
    return ReportRow(*r[: len(_COLUMNS)])


async def insert(conn: AsyncConnection, *, room_id: int, seq: int, sender_id: int | None, reporter_id: int,
                 reason: str, note: str, snippet: str, now: int) -> ReportRow | None:
    """A new open report; None when this reporter reported this message already (the unique key
    decides, so two racing reports cannot both be stored)."""
    try:
        async with conn.begin_nested():  # PostgreSQL: the failed insert must not doom the transaction
            result = await conn.execute(reports.insert().values(
                room_id=room_id, seq=seq, sender_id=sender_id, reporter_id=reporter_id, reason=reason, note=note,
                snippet=snippet, state="open", created_at=now, resolution_note="").returning(*_COLUMNS))
    except sa.exc.IntegrityError:
        return None
    return _row(result.one())


async def open_count(conn: AsyncConnection) -> int:
    """Open reports on the whole server (the admin console's figure)."""
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(reports).where(reports.c.state == "open")) or 0)


async def get(conn: AsyncConnection, report_id: int) -> ReportRow | None:
    row = (await conn.execute(sa.select(*_COLUMNS).where(reports.c.id == report_id))).one_or_none()
    return None if row is None else _row(row)


async def resolve_open(conn: AsyncConnection, room_id: int, seq: int, *, by: int, action: str, note: str,
                       now: int) -> list[ReportRow]:
    """Resolve every open report of a message; returns them as resolved. A concurrent resolution
    that committed first leaves none (PostgreSQL re-checks `state` after waiting for the row)."""
    result = await conn.execute(
        reports.update().where(reports.c.room_id == room_id, reports.c.seq == seq, reports.c.state == "open")
        .values(state="resolved", resolved_by=by, action=action, resolution_note=note, resolved_at=now)
        .returning(*_COLUMNS))
    return sorted((_row(r) for r in result), key=lambda r: r.id)


def _handled_by(viewer_id: int) -> tuple[sa.FromClause, sa.ColumnElement[bool]]:
    """Reports of the rooms where `viewer_id` is a joined moderator or higher, except those about a
    message whose sender is one too (those go to the server admins: core.reports.handled_by_staff)."""
    me, sender = members.alias("me"), members.alias("sender")
    staff = int(Role.MODERATOR)
    joined = MemberState.JOINED.value
    source = (reports.join(me, sa.and_(me.c.room_id == reports.c.room_id, me.c.user_id == viewer_id,
                                       me.c.state == joined, me.c.role >= staff))
              .outerjoin(sender, sa.and_(sender.c.room_id == reports.c.room_id,
                                         sender.c.user_id == reports.c.sender_id)))
    not_staff = sa.or_(sender.c.user_id.is_(None), sender.c.state != joined, sender.c.role < staff)
    return source, not_staff


async def page(conn: AsyncConnection, *, viewer_id: int, is_admin: bool, state: str, room_id: int | None,
               before: int | None, limit: int) -> list[ReportRow]:
    """Newest first: every report for a server admin, else those `viewer_id` handles."""
    if is_admin:
        stmt = sa.select(*_COLUMNS)
    else:
        source, not_staff = _handled_by(viewer_id)
        stmt = sa.select(*_COLUMNS).select_from(source).where(not_staff)
    stmt = stmt.where(reports.c.state == state)
    if room_id is not None:
        stmt = stmt.where(reports.c.room_id == room_id)
    if before is not None:
        stmt = stmt.where(reports.c.id < before)
    rows = await conn.execute(stmt.order_by(reports.c.id.desc()).limit(limit))
    return [_row(r) for r in rows]


async def of_reporter(conn: AsyncConnection, reporter_id: int, before: int | None, limit: int) -> list[ReportRow]:
    stmt = sa.select(*_COLUMNS).where(reports.c.reporter_id == reporter_id)
    if before is not None:
        stmt = stmt.where(reports.c.id < before)
    return [_row(r) for r in await conn.execute(stmt.order_by(reports.c.id.desc()).limit(limit))]


async def handlers(conn: AsyncConnection, room_id: int, sender_id: int | None) -> list[int]:
    """Who is told of a report now: the room's joined moderators and up, or, when the sender is one
    of them or the room has none (a direct chat), the server admins (enabled ones)."""
    staff = (sa.select(members.c.user_id).where(
        members.c.room_id == room_id, members.c.state == MemberState.JOINED.value,
        members.c.role >= int(Role.MODERATOR)))
    ids = set((await conn.execute(staff)).scalars())
    if ids and (sender_id is None or sender_id not in ids):
        return sorted(ids)
    admins = sa.select(users.c.id).where(users.c.is_admin.is_(True), users.c.disabled.is_(False))
    return sorted((await conn.execute(admins)).scalars())


# -- what a page of reports shows besides its rows ------------------------------------------------------


async def messages(conn: AsyncConnection, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Event]:
    """The reported messages as they are now, {(room, seq): event}: one query per page."""
    by_room: dict[int, set[int]] = defaultdict(set)
    for room_id, seq in keys:
        by_room[room_id].add(seq)
    if not by_room:
        return {}
    rows = await conn.execute(sa.select(*COLUMNS).select_from(FROM).where(sa.or_(*(
        sa.and_(events.c.room_id == room_id, events.c.seq.in_(sorted(seqs)))
        for room_id, seqs in sorted(by_room.items())))))
    found = (event_from_row(r) for r in rows)
    return {(e.room_id, e.seq): e for e in found}


async def people(conn: AsyncConnection, ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """{id: public user object} of everyone a page of reports names: one query."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    person = users.alias("person")
    rows = await conn.execute(sa.select(*public_columns(person, "p")).where(person.c.id.in_(wanted)))
    found = (public_from(r, "p") for r in rows)
    return {p["id"]: p for p in found if p is not None}


async def room_names(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await conn.execute(sa.select(rooms.c.id, rooms.c.name, rooms.c.kind).where(rooms.c.id.in_(wanted)))
    return {r.id: {"id": r.id, "name": r.name, "kind": r.kind} for r in rows}
