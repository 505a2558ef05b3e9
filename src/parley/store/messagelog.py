"""The hot path: appending a batch of messages to room logs in one transaction, in hand-written SQL.

Everything else goes through SQLAlchemy Core. This one path does not, because it runs for every
message: through SQLAlchemy's async adapters each statement cost 250-450 µs of event-loop CPU here
(four thread hops per statement on aiosqlite), against one hop per batch on SQLite (the whole
transaction runs in the writer thread with the stdlib driver) and one round trip per statement
with raw asyncpg on PostgreSQL. The SQL is the same on both; only the placeholders differ.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from parley.core import mentions
from parley.core.errors import Unavailable
from parley.core.models import Event, EventType, Membership, MemberState, Role, Room, RoomKind, Visibility
from parley.store.outage import as_unavailable


class DuplicateClientMessage(Exception):
    """Another transaction stored one of the batch's client_msg_ids first."""


@dataclass(frozen=True, slots=True)
class Draft:
    room_id: int
    sender_id: int
    client_msg_id: str | None
    text: str
    session_id: int | None = None  # the sender's session, checked in the batch; None: a trusted caller


@dataclass(slots=True)
class Snapshot:
    """What the batch's decision needs, read inside its transaction (rooms locked)."""

    rooms: dict[int, Room]
    memberships: dict[tuple[int, int], Membership]
    existing: dict[tuple[int, int, str], Event]
    live_sessions: set[int]  # of the drafts' sessions, those that exist and have not expired
    # {room: {lower-case username: user id}} of the members (joined or invited) the texts may mention
    mentionable: dict[int, dict[str, int]]


Decide = Callable[[Snapshot], list[int]]  # -> indexes of the drafts to store, in order
Stored = dict[int, tuple[int, int]]  # draft index -> (event id, seq)

_ROOM = "SELECT id, kind, name, topic, visibility, archived, created_at, last_seq FROM rooms"
_MEMBER = "SELECT room_id, user_id, role, state, read_seq, joined_seq FROM members"
_EVENT = ("SELECT e.id, e.room_id, e.seq, e.type, e.ts, e.client_msg_id, e.text, e.data, e.sender_id, "
          "u.username, u.display_name FROM events e LEFT JOIN users u ON u.id = e.sender_id")
_MENTIONABLE = ("SELECT m.room_id, u.username_lower, u.id FROM members m JOIN users u ON u.id = m.user_id "
                "WHERE m.state IN ('joined', 'invited') AND ")
_BUMP = "UPDATE rooms SET last_seq = last_seq + {0} WHERE id = {1} RETURNING last_seq"


def _room(r: Sequence[Any]) -> Room:
    return Room(r[0], RoomKind(r[1]), r[2], r[3], Visibility(r[4]), bool(r[5]), r[6], r[7])


def _member(r: Sequence[Any]) -> Membership:
    return Membership(r[0], r[1], Role(r[2]), MemberState(r[3]), r[4], r[5])


def _event(r: Sequence[Any]) -> Event:
    data: dict[str, Any] = orjson.loads(r[7]) if r[7] else {}
    if r[6] is not None:
        data["text"] = r[6]
    sender = None if r[8] is None else {"id": r[8], "username": r[9], "display_name": r[10]}
    return Event(r[0], r[1], r[2], EventType(r[3]), r[4], sender, data, r[5])


def _groups(drafts: list[Draft]) -> tuple[dict[int, set[int]], dict[tuple[int, int], set[str]]]:
    members: dict[int, set[int]] = defaultdict(set)
    cmids: dict[tuple[int, int], set[str]] = defaultdict(set)
    for d in drafts:
        members[d.room_id].add(d.sender_id)
        if d.client_msg_id is not None:
            cmids[(d.room_id, d.sender_id)].add(d.client_msg_id)
    return members, cmids


def _mention_lookup(drafts: list[Draft]) -> tuple[list[int], list[str]]:
    """(rooms, lower-case names) to look up: every name any text of the batch may mention."""
    rooms: set[int] = set()
    names: set[str] = set()
    for d in drafts:
        found = mentions.candidates(d.text)
        if found:
            rooms.add(d.room_id)
            names.update(found)
    return sorted(rooms), sorted(names)


def _mention_map(rows: Sequence[Sequence[Any]]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for room_id, name, user_id in rows:
        out[room_id][name] = user_id
    return dict(out)


def mentioned(snapshot: Snapshot, draft: Draft) -> list[int]:
    """The ids a stored message mentions: members of its room at send time, as read in the batch."""
    return mentions.resolve(draft.text, snapshot.mentionable.get(draft.room_id, {}))


def _data(snapshot: Snapshot, draft: Draft) -> str | None:
    ids = mentioned(snapshot, draft)
    return orjson.dumps({"mentions": ids}).decode() if ids else None


def _session_ids(drafts: list[Draft]) -> list[int]:
    return sorted({d.session_id for d in drafts if d.session_id is not None})


def _placements(drafts: list[Draft], chosen: list[int]) -> dict[int, list[int]]:
    by_room: dict[int, list[int]] = defaultdict(list)
    for i in chosen:
        by_room[drafts[i].room_id].append(i)
    return by_room


SYNC_LEVELS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


def sqlite_pragmas(synchronous: int) -> list[str]:
    """The settings of every SQLite connection Parley opens (SQLAlchemy's and the writer thread's)."""
    return ["PRAGMA journal_mode=WAL", f"PRAGMA synchronous={synchronous}", "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=10000"]


class SqliteMessageLog:
    """Runs each batch as one call on the writer thread, with its own stdlib connection."""

    def __init__(self, path: str, synchronous: int) -> None:
        self._path = path
        self._synchronous = synchronous
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-sqlite-log")
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            for pragma in sqlite_pragmas(self._synchronous):
                conn.execute(pragma)
            self._conn = conn
        return self._conn

    async def append(self, drafts: list[Draft], decide: Decide, now: int) -> tuple[Snapshot, Stored]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, self._append, drafts, decide, now)
        except sqlite3.IntegrityError as exc:
            raise DuplicateClientMessage(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"the database is unavailable: {exc}; retry shortly") from exc

    def _append(self, drafts: list[Draft], decide: Decide, now: int) -> tuple[Snapshot, Stored]:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            snapshot = self._snapshot(conn, drafts, now)
            stored = self._store(conn, drafts, snapshot, decide(snapshot), now)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return snapshot, stored

    @staticmethod
    def _snapshot(conn: sqlite3.Connection, drafts: list[Draft], now: int) -> Snapshot:
        members, cmids = _groups(drafts)
        ids = sorted(members)
        rooms = {r[0]: _room(r) for r in conn.execute(
            f"{_ROOM} WHERE id IN ({','.join('?' * len(ids))})", ids)}
        memberships = {}
        for room_id, users in members.items():
            for r in conn.execute(f"{_MEMBER} WHERE room_id = ? AND user_id IN ({','.join('?' * len(users))})",
                                  [room_id, *users]):
                memberships[(r[0], r[1])] = _member(r)
        existing = {}
        for (room_id, sender), keys in cmids.items():
            sql = (f"{_EVENT} WHERE e.room_id = ? AND e.sender_id = ? AND e.client_msg_id IN "
                   f"({','.join('?' * len(keys))})")
            for r in conn.execute(sql, [room_id, sender, *keys]):
                existing[(r[1], r[8], r[5])] = _event(r)
        # Under the write lock (BEGIN IMMEDIATE): a revocation committed first has deleted the
        # session, and one not yet committed waits for this batch.
        wanted = _session_ids(drafts)
        live = {r[0] for r in conn.execute(
            f"SELECT id FROM sessions WHERE id IN ({','.join('?' * len(wanted))}) AND expires_at > ?",
            [*wanted, now])} if wanted else set()
        mention_rooms, names = _mention_lookup(drafts)
        mentionable = _mention_map(conn.execute(
            f"{_MENTIONABLE} m.room_id IN ({','.join('?' * len(mention_rooms))}) "
            f"AND u.username_lower IN ({','.join('?' * len(names))})", [*mention_rooms, *names]).fetchall()
        ) if names else {}
        return Snapshot(rooms, memberships, existing, live, mentionable)

    @staticmethod
    def _store(conn: sqlite3.Connection, drafts: list[Draft], snapshot: Snapshot, chosen: list[int],
               now: int) -> Stored:
        stored: Stored = {}
        for room_id, indexes in sorted(_placements(drafts, chosen).items()):
            last = conn.execute(_BUMP.format("?", "?"), (len(indexes), room_id)).fetchone()[0]
            first = last - len(indexes) + 1
            conn.executemany(
                "INSERT INTO events (room_id, seq, type, sender_id, ts, client_msg_id, text, data) "
                "VALUES (?, ?, 'message', ?, ?, ?, ?, ?)",
                [(room_id, first + k, drafts[i].sender_id, now, drafts[i].client_msg_id, drafts[i].text,
                  _data(snapshot, drafts[i])) for k, i in enumerate(indexes)])
            ids = dict(conn.execute("SELECT seq, id FROM events WHERE room_id = ? AND seq BETWEEN ? AND ?",
                                    (room_id, first, last)))
            for k, i in enumerate(indexes):
                stored[i] = (ids[first + k], first + k)
        return stored

    async def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()

        await asyncio.get_running_loop().run_in_executor(self._thread, _close)
        self._thread.shutdown(wait=True)


class PostgresMessageLog:
    """Raw asyncpg on a connection borrowed from SQLAlchemy's pool."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    async def append(self, drafts: list[Draft], decide: Decide, now: int) -> tuple[Snapshot, Stored]:
        try:
            with as_unavailable():  # the server going away, at connect (via SQLAlchemy's pool) or later
                async with self._engine.connect() as sa_conn:
                    raw = await sa_conn.get_raw_connection()
                    conn: asyncpg.Connection = raw.driver_connection
                    async with conn.transaction():
                        snapshot = await self._snapshot(conn, drafts, now)
                        stored = await self._store(conn, drafts, snapshot, decide(snapshot), now)
                    return snapshot, stored
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateClientMessage(str(exc)) from exc

    @staticmethod
    async def _snapshot(conn: asyncpg.Connection, drafts: list[Draft], now: int) -> Snapshot:
        """Set-based: five statements at most, whatever the number of rooms in the batch."""
        members, cmids = _groups(drafts)
        # Locked in id order: this batch waits for any archive or leave in flight, and two
        # nodes' batches cannot deadlock.
        rooms = {r[0]: _room(r) for r in await conn.fetch(
            f"{_ROOM} WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", sorted(members))}
        pairs = [(room, user) for room, users in members.items() for user in users]
        memberships = {(r[0], r[1]): _member(r) for r in await conn.fetch(
            f"{_MEMBER} WHERE (room_id, user_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))",
            [p[0] for p in pairs], [p[1] for p in pairs])}
        keys = [(room, sender, cmid) for (room, sender), found in cmids.items() for cmid in found]
        existing = {}
        if keys:
            for r in await conn.fetch(
                    f"{_EVENT} WHERE (e.room_id, e.sender_id, e.client_msg_id) IN "
                    "(SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]))",
                    [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]):
                existing[(r[1], r[8], r[5])] = _event(r)
        # FOR SHARE: a revocation's DELETE either committed first (the row is gone) or waits
        # until this batch commits; no message lands after its session's revocation committed.
        wanted = _session_ids(drafts)
        live = {r[0] for r in await conn.fetch(
            "SELECT id FROM sessions WHERE id = ANY($1::bigint[]) AND expires_at > $2 FOR SHARE",
            wanted, now)} if wanted else set()
        mention_rooms, names = _mention_lookup(drafts)
        mentionable = _mention_map(await conn.fetch(
            f"{_MENTIONABLE} m.room_id = ANY($1::bigint[]) AND u.username_lower = ANY($2::text[])",
            mention_rooms, names)) if names else {}
        return Snapshot(rooms, memberships, existing, live, mentionable)

    @staticmethod
    async def _store(conn: asyncpg.Connection, drafts: list[Draft], snapshot: Snapshot, chosen: list[int],
                     now: int) -> Stored:
        """Set-based: one UPDATE numbers every room of the batch, one INSERT stores every message."""
        placements = sorted(_placements(drafts, chosen).items())
        if not placements:
            return {}
        bumped = await conn.fetch(
            "UPDATE rooms SET last_seq = rooms.last_seq + n.count FROM "
            "unnest($1::bigint[], $2::bigint[]) AS n(room, count) WHERE rooms.id = n.room "
            "RETURNING rooms.id, rooms.last_seq",
            [room for room, _ in placements], [len(indexes) for _, indexes in placements])
        last = {r[0]: r[1] for r in bumped}
        order: list[tuple[int, int]] = []  # (draft index, seq)
        for room_id, indexes in placements:
            first = last[room_id] - len(indexes) + 1
            order += [(i, first + k) for k, i in enumerate(indexes)]
        rows = await conn.fetch(
            "INSERT INTO events (room_id, seq, type, sender_id, ts, client_msg_id, text, data) "
            "SELECT r, s, 'message', u, $4, c, t, d FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], "
            "$5::text[], $6::text[], $7::text[]) AS x(r, s, u, c, t, d) RETURNING id, room_id, seq",
            [drafts[i].room_id for i, _ in order], [seq for _, seq in order],
            [drafts[i].sender_id for i, _ in order], now,
            [drafts[i].client_msg_id for i, _ in order], [drafts[i].text for i, _ in order],
            [_data(snapshot, drafts[i]) for i, _ in order])
        ids = {(r[1], r[2]): r[0] for r in rows}
        return {i: (ids[(drafts[i].room_id, seq)], seq) for i, seq in order}

    async def close(self) -> None:
        return None
