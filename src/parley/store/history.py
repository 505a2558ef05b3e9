"""History pages (issue 14): the reads of `GET /rooms/{id}/messages` in hand-written SQL, and the
message views built straight from their rows.

Through SQLAlchemy's async adapters a page cost seven statements (room, membership, the page,
reactions, pins, threads, reply previews) at ~300 µs of event-loop CPU each on aiosqlite, and each
message went row -> Event -> msgspec struct -> dict. Here, as in `store/connect.py`: on SQLite one
call on a small reader pool with stdlib `sqlite3` connections, the whole page in one read
transaction; on PostgreSQL raw asyncpg on a connection from SQLAlchemy's pool, three round trips
(room and membership, the page, reactions + pins + threads in one statement), a fourth for reply
previews when the page holds replies. The SQL is the same on both. A plain message's view is a dict
made from its row; other events still go through `Event.wire()`, so the wire form stays defined once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from parley.core.actions import snippet
from parley.core.models import EventType, Membership, Room
from parley.core.uploads import avatar_url
from parley.store.events import SELECT_SQL, event_from_row
from parley.store.outage import as_unavailable
from parley.store.rooms import MEMBER_COLUMNS, ROOM_COLUMNS, membership_from_row, room_from_row
from parley.store.sqlite_readers import SqliteReaders

_END = 2**62  # above every seq: "no bound" without another statement text (one prepared plan each)
_ROOM = (f"SELECT {', '.join('r.' + c.name for c in ROOM_COLUMNS)}, {', '.join('m.' + c.name for c in MEMBER_COLUMNS)}, "
         "m.left_seq FROM rooms r LEFT JOIN members m ON m.room_id = r.id AND m.user_id = {1} WHERE r.id = {0}")
_N_ROOM = len(ROOM_COLUMNS)
_N_MEMBER = len(MEMBER_COLUMNS)
_OLDER = f"{SELECT_SQL} WHERE events.room_id = {{0}} AND events.seq < {{1}} ORDER BY events.seq DESC LIMIT {{2}}"
_NEWER = (f"{SELECT_SQL} WHERE events.room_id = {{0}} AND events.seq > {{1}} AND events.seq <= {{2}} "
          "ORDER BY events.seq LIMIT {3}")
# Reactions, pins and thread summaries of a page in one statement, over the page's seq range (both
# exist for messages only, and `views` gives summaries to roots only): kind 0 rows are (seq, emoji,
# count, me, first reaction), 1 a pinned seq, 2 (root, replies, last seq, last ts). The same text on
# both databases, with numbered parameters (`?1`, `$1`).
_DECORATIONS = (
    "SELECT 0, seq, emoji, count(*), max(CASE WHEN user_id = {0} THEN 1 ELSE 0 END), min(created_at) "
    "FROM reactions WHERE room_id = {1} AND seq BETWEEN {2} AND {3} GROUP BY seq, emoji "
    "UNION ALL SELECT 1, seq, NULL, NULL, NULL, NULL FROM pins WHERE room_id = {1} AND seq BETWEEN {2} AND {3} "
    "UNION ALL SELECT 2, thread_root, NULL, count(*), max(seq), max(ts) FROM events WHERE room_id = {1} "
    "AND thread_root IS NOT NULL AND thread_root BETWEEN {2} AND {3} GROUP BY thread_root "  # ix_events_thread
    "ORDER BY 1, 2, 6, 3")
_PREVIEWS = f"{SELECT_SQL} WHERE events.room_id = {{0}} AND events.seq {{1}} AND events.type = 'message'"
READERS = 2


@dataclass(frozen=True, slots=True)
class Window:
    """Which events a page reads, as the service decided from the room and the membership.
    `older`: (below this seq or None for the latest, how many); `newer`: (above this seq, how
    many); `upto`: the last seq a former member may read (None: all)."""

    upto: int | None
    older: tuple[int | None, int] | None = None
    newer: tuple[int, int] | None = None
    decorate: bool = True


Choose = Callable[[Room | None, Membership | None, int], Window]  # raises when the user may not read


@dataclass(slots=True)
class Decorations:
    """One reader's aggregates of a page: {seq: [reaction counts]}, pinned seqs, {root: summary},
    {seq: reply preview}."""

    reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pinned: set[int] = field(default_factory=set)
    threads: dict[int, dict[str, int]] = field(default_factory=dict)
    previews: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class PageRows:
    room: Room
    membership: Membership | None
    upto: int | None
    older: list[Sequence[Any]]  # oldest first
    newer: list[Sequence[Any]]
    decorations: Decorations | None


# -- rows to views ---------------------------------------------------------------------------------------

# A message's stored fields beyond text and mentions, in the order of `wire.MessageEvent`.
_MESSAGE_EXTRA = ("attachments", "reply_to", "thread_root", "mentions_room", "thread_participants", "edited_at",
                  "deleted")
_MESSAGE = EventType.MESSAGE.value
_MESSAGE_KEYS = frozenset({"mentions", *_MESSAGE_EXTRA})


def _sender(r: Sequence[Any]) -> dict[str, Any] | None:
    if r[8] is None:
        return None
    sender = {"id": r[8], "username": r[9], "display_name": r[10], "avatar_url": avatar_url(r[8], r[11])}
    if r[13]:
        sender["bot"] = True
    return sender


def view(r: Sequence[Any]) -> dict[str, Any]:
    """The wire form of a row of `events.COLUMNS`, as `event_from_row(r).wire()` makes it: a message
    directly from its row, anything else through the event's struct."""
    data = orjson.loads(r[7]) if r[7] else None
    if r[3] != _MESSAGE or not isinstance(r[6], str) or (data and not data.keys() <= _MESSAGE_KEYS):
        return event_from_row(r).wire()
    # The one dict built outside core/wire.py's structs, for speed (issue 14): its shape is
    # `wire.MessageEvent`'s, which tests/contract/test_history_pages.py checks byte for byte.
    out = {"type": _MESSAGE, "room": r[1], "seq": r[2], "id": r[0], "ts": r[4], "sender": _sender(r),
           "text": r[6], "client_msg_id": r[5], "mentions": []}
    if data:
        if "mentions" in data:
            out["mentions"] = data["mentions"]
        for key in _MESSAGE_EXTRA:
            if key in data:
                out[key] = data[key]
    return out


def views(rows: Sequence[Sequence[Any]], decorations: Decorations | None) -> list[dict[str, Any]]:
    """The page's views, each message with the reader's aggregates (only those that are there: a
    plain message reads exactly as its event)."""
    out = [view(r) for r in rows]
    if decorations is None:
        return out
    d = decorations
    for v in out:
        if v["type"] != "message":
            continue
        seq = v["seq"]
        if seq in d.reactions:
            v["reactions"] = d.reactions[seq]
        if seq in d.pinned:
            v["pinned"] = True
        if seq in d.threads and "thread_root" not in v:
            v["thread"] = d.threads[seq]
        if "reply_to" in v and v["reply_to"] in d.previews:
            v["reply"] = d.previews[v["reply_to"]]
    return out


def _replied(rows: list[Sequence[Any]]) -> list[int]:
    """The seqs the page's replies answer (only replies carry `reply_to` in their JSON)."""
    out = set()
    for r in rows:
        if r[3] == "message" and r[7] and '"reply_to"' in r[7]:
            target = orjson.loads(r[7]).get("reply_to")
            if target is not None:
                out.add(target)
    return sorted(out)


def _decorations(rows: Sequence[Sequence[Any]]) -> Decorations:
    """Decorations from the rows of `_DECORATIONS`."""
    found = Decorations()
    for kind, seq, emoji, a, b, c in rows:
        if kind == 0:
            found.reactions.setdefault(seq, []).append({"emoji": emoji, "count": a, "me": bool(b)})
        elif kind == 1:
            found.pinned.add(seq)
        else:
            found.threads[seq] = {"count": a, "last_seq": b, "last_ts": c}
    return found


def _preview_map(rows: Sequence[Sequence[Any]]) -> dict[int, dict[str, Any]]:
    out = {}
    for r in rows:
        data = orjson.loads(r[7]) if r[7] else {}
        deleted = bool(data.get("deleted"))
        out[r[2]] = {"seq": r[2], "author": _sender(r), "deleted": deleted,
                     "text": "" if deleted else snippet(r[6] if r[6] is not None else "")}
    return out


def _split(row: Sequence[Any]) -> tuple[Room, Membership | None, int]:
    room = room_from_row(row)
    if row[_N_ROOM] is None:
        return room, None, 0
    return room, membership_from_row(row[_N_ROOM:]), int(row[_N_ROOM + _N_MEMBER] or 0)


# -- SQLite ----------------------------------------------------------------------------------------------


def _in(values: Sequence[int]) -> str:
    return f"IN ({','.join('?' * len(values))})"


class SqliteHistoryReads:
    def __init__(self, path: str, pragmas: list[str]) -> None:
        self._readers = SqliteReaders(path, pragmas, threads=READERS, name="parley-sqlite-history")
        self._conn = self._readers.conn
        self._room = _ROOM.format("?", "?")
        self._older = _OLDER.format("?", "?", "?")
        self._newer = _NEWER.format("?", "?", "?", "?")
        self._decorations = _DECORATIONS.format("?1", "?2", "?3", "?4")  # each used more than once

    async def page(self, room_id: int, user_id: int, choose: Choose) -> PageRows:
        return await self._readers.run(self._page, room_id, user_id, choose)

    def _page(self, room_id: int, user_id: int, choose: Choose) -> PageRows:
        conn = self._conn()
        conn.execute("BEGIN")  # one snapshot for the whole page, as the SQLAlchemy reader had
        try:
            rows = conn.execute(self._room, (user_id, room_id)).fetchall()
            room, membership, left = _split(tuple(rows[0])) if rows else (None, None, 0)
            window = choose(room, membership, left)
            assert room is not None  # choose refuses a missing room
            older, newer = [], []
            if window.older is not None:
                below, n = window.older
                older = conn.execute(self._older, (room_id, _END if below is None else below, n)).fetchall()
                older.reverse()
            if window.newer is not None:
                above, n = window.newer
                newer = conn.execute(self._newer, (room_id, above, _END if window.upto is None else window.upto,
                                                   n)).fetchall()
            found = self._decorate(conn, room_id, user_id, older + newer) if window.decorate else None
        finally:
            conn.execute("COMMIT")
        return PageRows(room, membership, window.upto, older, newer, found)

    def _decorate(self, conn: sqlite3.Connection, room_id: int, user_id: int,
                  rows: list[Sequence[Any]]) -> Decorations:
        if not rows:
            return Decorations()
        found = _decorations(conn.execute(self._decorations, (user_id, room_id, rows[0][2], rows[-1][2])).fetchall())
        replied = _replied(rows)
        if replied:
            found.previews = _preview_map(conn.execute(_PREVIEWS.format("?", _in(replied)),
                                                       (room_id, *replied)).fetchall())
        return found

    async def close(self) -> None:
        await self._readers.close()


# -- PostgreSQL ------------------------------------------------------------------------------------------


class PostgresHistoryReads:
    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._room = _ROOM.format("$1", "$2")
        self._older = _OLDER.format("$1", "$2", "$3")
        self._newer = _NEWER.format("$1", "$2", "$3", "$4")
        self._decorations = _DECORATIONS.format("$1", "$2", "$3", "$4")
        self._previews = _PREVIEWS.format("$1", "= ANY($2::bigint[])")

    async def page(self, room_id: int, user_id: int, choose: Choose) -> PageRows:
        with as_unavailable():
            async with self._engine.connect() as sa_conn:
                raw = await sa_conn.get_raw_connection()
                conn: asyncpg.Connection = raw.driver_connection
                # READ COMMITTED, as the SQLAlchemy reads were: each statement sees what had committed.
                rows = await conn.fetch(self._room, room_id, user_id)
                room, membership, left = _split(tuple(rows[0])) if rows else (None, None, 0)
                window = choose(room, membership, left)
                assert room is not None
                older: list[Any] = []
                newer: list[Any] = []
                if window.older is not None:
                    below, n = window.older
                    older = list(reversed(await conn.fetch(self._older, room_id, _END if below is None else below, n)))
                if window.newer is not None:
                    above, n = window.newer
                    newer = await conn.fetch(self._newer, room_id, above,
                                             _END if window.upto is None else window.upto, n)
                found = await self._decorate(conn, room_id, user_id, older + newer) if window.decorate else None
        return PageRows(room, membership, window.upto, older, newer, found)

    async def _decorate(self, conn: asyncpg.Connection, room_id: int, user_id: int,
                        rows: list[Sequence[Any]]) -> Decorations:
        if not rows:
            return Decorations()
        found = _decorations(await conn.fetch(self._decorations, user_id, room_id, rows[0][2], rows[-1][2]))
        replied = _replied(rows)
        if replied:
            found.previews = _preview_map(await conn.fetch(self._previews, room_id, replied))
        return found

    async def close(self) -> None:
        return None
