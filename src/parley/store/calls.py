"""Calls (issue 13): running calls and their participant connections (`calls`, `call_peers`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import call_peers, calls, members, users
from parley.store.users import public_columns, public_from


@dataclass(frozen=True, slots=True)
class CallRow:
    id: int
    room_id: int
    started_by: int | None
    started_at: int
    answered_at: int | None
    ended_at: int | None
    video: bool


@dataclass(frozen=True, slots=True)
class PeerRow:
    peer: str
    call_id: int
    user_id: int
    joined_at: int
    seen_at: int
    left_at: int | None


_CALL = (calls.c.id, calls.c.room_id, calls.c.started_by, calls.c.started_at, calls.c.answered_at, calls.c.ended_at,
         calls.c.video)
_PEER = (call_peers.c.peer, call_peers.c.call_id, call_peers.c.user_id, call_peers.c.joined_at, call_peers.c.seen_at,
         call_peers.c.left_at)


def _call(r: Any) -> CallRow:
    return CallRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]))


def _peer(r: Any) -> PeerRow:
    return PeerRow(r[0], r[1], r[2], r[3], r[4], r[5])


async def get(conn: AsyncConnection, call_id: int) -> CallRow | None:
    row = (await conn.execute(sa.select(*_CALL).where(calls.c.id == call_id))).one_or_none()
    return None if row is None else _call(row)


async def running(conn: AsyncConnection, room_id: int) -> CallRow | None:
    """The room's running call (at most one: started under the room's row lock)."""
    row = (await conn.execute(sa.select(*_CALL).where(calls.c.room_id == room_id, calls.c.ended_at.is_(None))
                              .order_by(calls.c.id.desc()).limit(1))).one_or_none()
    return None if row is None else _call(row)


async def insert(conn: AsyncConnection, *, room_id: int, started_by: int, now: int, video: bool) -> int:
    result = await conn.execute(sa.insert(calls).values(room_id=room_id, started_by=started_by, started_at=now,
                                                        video=video).returning(calls.c.id))
    return int(result.scalar_one())


async def answered(conn: AsyncConnection, call_id: int, now: int) -> None:
    await conn.execute(sa.update(calls).where(calls.c.id == call_id, calls.c.answered_at.is_(None))
                       .values(answered_at=now))


async def end(conn: AsyncConnection, call_id: int, now: int) -> CallRow | None:
    """End a running call and take its participants out; None if it had ended already (of two
    nodes racing to end it, one does)."""
    row = (await conn.execute(sa.update(calls).where(calls.c.id == call_id, calls.c.ended_at.is_(None))
                              .values(ended_at=now).returning(*_CALL))).one_or_none()
    if row is None:
        return None
    await conn.execute(sa.update(call_peers).where(call_peers.c.call_id == call_id, call_peers.c.left_at.is_(None))
                       .values(left_at=now))
    return _call(row)


async def add_peer(conn: AsyncConnection, *, peer: str, call_id: int, user_id: int, now: int) -> None:
    await conn.execute(sa.insert(call_peers).values(peer=peer, call_id=call_id, user_id=user_id, joined_at=now,
                                                    seen_at=now))


async def rejoin(conn: AsyncConnection, peer: str, call_id: int, user_id: int, now: int) -> bool:
    """Take my participant connection over again (after a reconnect), unless it was taken out."""
    result = await conn.execute(sa.update(call_peers).where(
        call_peers.c.peer == peer, call_peers.c.call_id == call_id, call_peers.c.user_id == user_id,
        call_peers.c.left_at.is_(None)).values(seen_at=now))
    return result.rowcount == 1


async def leave(conn: AsyncConnection, peers: Iterable[str], now: int) -> None:
    wanted = list(peers)
    if wanted:
        await conn.execute(sa.update(call_peers).where(call_peers.c.peer.in_(wanted), call_peers.c.left_at.is_(None))
                           .values(left_at=now))


async def peer(conn: AsyncConnection, peer_id: str) -> PeerRow | None:
    row = (await conn.execute(sa.select(*_PEER).where(call_peers.c.peer == peer_id))).one_or_none()
    return None if row is None else _peer(row)


async def live_peers(conn: AsyncConnection, call_id: int) -> list[tuple[PeerRow, dict[str, Any]]]:
    """The call's participant connections in, in the order they joined, with their users."""
    person = users.alias("person")
    rows = await conn.execute(
        sa.select(*_PEER, *public_columns(person, "p"))
        .select_from(call_peers.join(person, person.c.id == call_peers.c.user_id))
        .where(call_peers.c.call_id == call_id, call_peers.c.left_at.is_(None))
        .order_by(call_peers.c.joined_at, call_peers.c.peer))
    return [(_peer(r), public_from(r, "p") or {}) for r in rows]


async def everyone(conn: AsyncConnection, call_id: int) -> list[dict[str, Any]]:
    """Everyone who was in the call, once each, in the order they first joined."""
    person = users.alias("person")
    first = sa.func.min(call_peers.c.joined_at).label("first")
    rows = await conn.execute(
        sa.select(first, *public_columns(person, "p"))
        .select_from(call_peers.join(person, person.c.id == call_peers.c.user_id))
        .where(call_peers.c.call_id == call_id)
        .group_by(person.c.id, person.c.username, person.c.display_name, person.c.avatar)
        .order_by(first, person.c.id))
    return [p for r in rows if (p := public_from(r, "p")) is not None]


async def signal_route(conn: AsyncConnection, call_id: int, source: str, target: str) -> dict[str, PeerRow]:
    """The two live participants of a running call a signal goes between, each while still a
    joined member of the room: one query. Missing from the answer: not (or no longer) so."""
    rows = await conn.execute(
        sa.select(*_PEER)
        .select_from(call_peers.join(calls, calls.c.id == call_peers.c.call_id)
                     .join(members, sa.and_(members.c.room_id == calls.c.room_id,
                                            members.c.user_id == call_peers.c.user_id)))
        .where(call_peers.c.peer.in_([source, target]), call_peers.c.call_id == call_id,
               call_peers.c.left_at.is_(None), calls.c.ended_at.is_(None), members.c.state == "joined"))
    return {r[0]: _peer(r) for r in rows}


async def heartbeat(conn: AsyncConnection, peers: list[str], now: int) -> None:
    if peers:
        await conn.execute(sa.update(call_peers).where(call_peers.c.peer.in_(peers), call_peers.c.left_at.is_(None))
                           .values(seen_at=now))


async def stale(conn: AsyncConnection, before: int, limit: int = 500) -> list[PeerRow]:
    """Participants no node has seen since `before`: their node died, or their socket did not come back."""
    rows = await conn.execute(sa.select(*_PEER).where(call_peers.c.left_at.is_(None), call_peers.c.seen_at < before)
                              .order_by(call_peers.c.seen_at).limit(limit))
    return [_peer(r) for r in rows]


async def live_count(conn: AsyncConnection, call_id: int) -> int:
    result = await conn.execute(sa.select(sa.func.count()).select_from(call_peers).where(
        call_peers.c.call_id == call_id, call_peers.c.left_at.is_(None)))
    return int(result.scalar_one())


async def running_in(conn: AsyncConnection, room_ids: list[int]) -> dict[int, int]:
    """{room: running call id} of those rooms."""
    if not room_ids:
        return {}
    rows = await conn.execute(sa.select(calls.c.room_id, calls.c.id).where(calls.c.room_id.in_(room_ids),
                                                                          calls.c.ended_at.is_(None)))
    return {r[0]: r[1] for r in rows}
