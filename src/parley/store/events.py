"""The room logs: the one module that knows how an event is a row of `events`.

Everything that writes an event goes through `writes` (the one writer), whoever calls it: a
service inside the transaction that also changes its state rows (`append`, SQLAlchemy), or the
send batch on its own fast path (`store/messagelog.py`: the stdlib driver on the SQLite writer
thread, raw asyncpg on PostgreSQL). `writes` yields its SQL statements and a small runner per
driver executes them, so the SQL, the column list and the row encoding exist once. Everything
that reads events maps the `COLUMNS` with `event_from_row`.

An event's type-specific fields (`Event.data`, the wire fields beyond the envelope) are stored as
JSON in `data`, except `text`, which has a column of its own (unread and mention counts search
it); a thread reply's `thread_root` is copied to a column too, so a thread is an index range. A new event type, or a new field of one, therefore needs nothing here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import search
from parley.core.models import Event, EventType
from parley.core.uploads import avatar_url
from parley.store.tables import events, users

# What every reader selects, in this order (`event_from_row` reads by position).
COLUMNS = (events.c.id, events.c.room_id, events.c.seq, events.c.type, events.c.ts, events.c.client_msg_id,
           events.c.text, events.c.data, events.c.sender_id, users.c.username, users.c.display_name, users.c.avatar,
           events.c.thread_root,  # only for completeness: `data` holds thread_root too
           users.c.bot)  # a bot sender carries `bot: true` (issue 12)
FROM = events.outerjoin(users, users.c.id == events.c.sender_id)
# The same, for the batch's hand-written SQL: append "WHERE events.... ".
SELECT_SQL = (f"SELECT {', '.join(f'{c.table.name}.{c.name}' for c in COLUMNS)} "
              "FROM events LEFT JOIN users ON users.id = events.sender_id")

# What the writer inserts, in this order (`_values`).
INSERTED = ("room_id", "seq", "type", "sender_id", "ts", "client_msg_id", "text", "data", "thread_root")


def event_from_row(r: Sequence[Any]) -> Event:
    """The one row mapper: a row of `COLUMNS` (SQLAlchemy, sqlite3 or asyncpg) as an Event."""
    data: dict[str, Any] = orjson.loads(r[7]) if r[7] else {}
    if r[6] is not None:
        data["text"] = r[6]
    sender = None if r[8] is None else {"id": r[8], "username": r[9], "display_name": r[10],
                                        "avatar_url": avatar_url(r[8], r[11])}
    if sender is not None and r[13]:
        sender["bot"] = True
    return Event(r[0], r[1], r[2], EventType(r[3]), r[4], sender, data, r[5])


@dataclass(frozen=True, slots=True)
class Draft:
    """An event to append: any type, with its type-specific data."""

    room_id: int
    sender_id: int | None
    type: EventType
    data: dict[str, Any]
    client_msg_id: str | None = None  # unique per (room, sender) when given
    session_id: int | None = None  # the send batch stores it only if this session still exists; None: trusted

    def event(self, event_id: int, seq: int, ts: int, sender: dict[str, Any] | None) -> Event:
        return Event(event_id, self.room_id, seq, self.type, ts, sender, self.data, self.client_msg_id)


def _values(d: Draft, seq: int, ts: int) -> tuple[Any, ...]:
    text = d.data.get("text")
    rest = d.data
    if isinstance(text, str):
        rest = {k: v for k, v in d.data.items() if k != "text"} if len(d.data) > 1 else {}
    else:
        text = None
    return (d.room_id, seq, d.type.value, d.sender_id, ts, d.client_msg_id, text,
            orjson.dumps(rest).decode() if rest else None, d.data.get("thread_root"))


@dataclass(frozen=True, slots=True)
class Stmt:
    """One statement of the writer, in the driver's own placeholders (`?` on SQLite, `$n` on PostgreSQL)."""

    sql: str
    args: Sequence[Any]
    many: bool = False  # args is a list of parameter rows, executed as executemany; yields no rows


Rows = list[Sequence[Any]]
Placed = list[tuple[int, int]]  # (event id, seq) per draft, in the drafts' order
Writer = Generator[Stmt, Rows, Placed]

_BUMP = "UPDATE rooms SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq"
_INSERT = f"INSERT INTO events ({', '.join(INSERTED)}) VALUES ({', '.join('?' * len(INSERTED))})"
_IDS = "SELECT seq, id FROM events WHERE room_id = ? AND seq BETWEEN ? AND ?"
_PG_BUMP = ("UPDATE rooms SET last_seq = rooms.last_seq + n.count FROM "
            "unnest($1::bigint[], $2::bigint[]) AS n(room, count) WHERE rooms.id = n.room "
            "RETURNING rooms.id, rooms.last_seq")
_PG_ARRAYS = ", ".join(f"${i}::{events.c[name].type.compile(dialect=postgresql.dialect())}[]"
                       for i, name in enumerate(INSERTED, 1))
_PG_INSERT = f"INSERT INTO events ({', '.join(INSERTED)}) SELECT * FROM unnest({_PG_ARRAYS}) RETURNING id, room_id, seq"
# The search index (store/search.py reads it), written with the messages it indexes: SQLite's FTS5
# table keyed by the event id as rowid, PostgreSQL's tsvector rows keyed by event_id.
INDEX_SQL = "INSERT INTO message_search (rowid, body) VALUES (?, ?)"
# PostgreSQL indexes in the statement that inserts the events (a round trip less per batch).
_N = len(INSERTED)
# It knows the new ids, so it puts each event's era (core.search) where the body has ERA_MARK.


@cache
def _pg_insert_indexed(era_bits: int) -> str:
    return (f"WITH ins AS ({_PG_INSERT}), "
            "idx AS (INSERT INTO message_search (event_id, tsv) "
            f"SELECT ins.id, CAST(replace(b.body, '{search.ERA_MARK}', (ins.id >> {era_bits}) || '~') AS tsvector) "
            f"FROM ins JOIN unnest(${_N + 1}::bigint[], ${_N + 2}::bigint[], ${_N + 3}::text[]) AS b(room, seq, body) "
            "ON b.room = ins.room_id AND b.seq = ins.seq) "
            "SELECT id, room_id, seq FROM ins")


def index_body(dialect: str, text: str, room_id: int, sender_id: int | None, event_id: int | None = None) -> str | None:
    """What the index stores for a message text (its words, then its room's and sender's facets),
    or None when it has no words to find. On PostgreSQL, `event_id` (when known) gives the era."""
    toks = search.tokens(text)
    if not toks:
        return None
    facets = [search.room_facet(room_id)] if sender_id is None else [search.room_facet(room_id),
                                                                       search.user_facet(sender_id)]
    if dialect == "postgresql":
        return search.tsvector(toks + facets, event_id)
    return " ".join(toks + facets)


def _bodies(dialect: str, drafts: Sequence[Draft]) -> list[tuple[int, str]]:
    """(draft index, index body) of the drafts that are messages with words."""
    out = []
    for i, d in enumerate(drafts):
        text = d.data.get("text") if d.type is EventType.MESSAGE else None
        body = index_body(dialect, text, d.room_id, d.sender_id) if isinstance(text, str) else None
        if body is not None:
            out.append((i, body))
    return out


def writes(dialect: str, drafts: Sequence[Draft], ts: int) -> Writer:
    """The one writer: number `drafts` in their rooms' logs and insert them, in the caller's
    transaction. Yields its statements for a runner; returns (event id, seq) per draft.

    Seqs come from `UPDATE rooms SET last_seq = last_seq + n ... RETURNING`, in the same
    transaction as the rows: on PostgreSQL that takes the room's row lock, so seq order is commit
    order and no seq is ever skipped. Callers lock the rooms first, in id order when several
    (the batch); a room's drafts get consecutive seqs in the order given."""
    by_room: dict[int, list[int]] = defaultdict(list)
    for i, d in enumerate(drafts):
        by_room[d.room_id].append(i)
    rooms = sorted(by_room)
    if not rooms:
        return []
    seqs = [0] * len(drafts)
    if dialect == "postgresql":  # set-based: two statements whatever the number of rooms
        last = dict(map(tuple, (yield Stmt(_PG_BUMP, (rooms, [len(by_room[r]) for r in rooms])))))
        for room in rooms:
            first = last[room] - len(by_room[room]) + 1
            for k, i in enumerate(by_room[room]):
                seqs[i] = first + k
        columns = [list(c) for c in zip(*(_values(d, seqs[i], ts) for i, d in enumerate(drafts)), strict=True)]
        bodies = _bodies(dialect, drafts)
        if bodies:
            columns += [[drafts[i].room_id for i, _ in bodies], [seqs[i] for i, _ in bodies], [b for _, b in bodies]]
        ids = {(r[1], r[2]): r[0] for r in (yield Stmt(_pg_insert_indexed(search.ERA_BITS) if bodies else _PG_INSERT, columns))}
        return [(ids[(d.room_id, seqs[i])], seqs[i]) for i, d in enumerate(drafts)]
    placed: Placed = [(0, 0)] * len(drafts)
    for room in rooms:
        indexes = by_room[room]
        ((end,),) = yield Stmt(_BUMP, (len(indexes), room))
        first = end - len(indexes) + 1
        yield Stmt(_INSERT, [_values(drafts[i], first + k, ts) for k, i in enumerate(indexes)], many=True)
        ids = dict(map(tuple, (yield Stmt(_IDS, (room, first, end)))))
        for k, i in enumerate(indexes):
            placed[i] = (ids[first + k], first + k)
    bodies = _bodies(dialect, drafts)
    if bodies:
        yield Stmt(INDEX_SQL, [(placed[i][0], body) for i, body in bodies], many=True)
    return placed


async def append(conn: AsyncConnection, drafts: Sequence[Draft], ts: int) -> Placed:
    """Run the writer inside a SQLAlchemy transaction: a service's own, which also holds the state
    change the events record, so both commit together."""
    writer = writes(conn.dialect.name, drafts, ts)
    rows: Any = None
    try:
        while True:
            stmt = writer.send(rows)
            result = await conn.exec_driver_sql(stmt.sql, list(stmt.args) if stmt.many else tuple(stmt.args))
            rows = [] if stmt.many else result.all()
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def after(conn: AsyncConnection, room_id: int, seq: int, limit: int, upto: int | None = None) -> list[Event]:
    """The `limit` events after `seq` (up to `upto` when given), oldest first."""
    stmt = sa.select(*COLUMNS).select_from(FROM).where(events.c.room_id == room_id, events.c.seq > seq)
    if upto is not None:
        stmt = stmt.where(events.c.seq <= upto)
    rows = await conn.execute(stmt.order_by(events.c.seq).limit(limit))
    return [event_from_row(r) for r in rows]


async def before(conn: AsyncConnection, room_id: int, seq: int | None, limit: int, floor: int = 0) -> list[Event]:
    """The `limit` events just before `seq` (or the latest), above `floor`, oldest first."""
    stmt = sa.select(*COLUMNS).select_from(FROM).where(events.c.room_id == room_id, events.c.seq > floor)
    if seq is not None:
        stmt = stmt.where(events.c.seq < seq)
    rows = await conn.execute(stmt.order_by(events.c.seq.desc()).limit(limit))
    return [event_from_row(r) for r in reversed(rows.all())]
