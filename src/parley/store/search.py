"""The message search index: queries, and keeping it in step with edits and deletes.

New messages are indexed by the one writer (`store.events.writes`), in the transaction that stores
them. A change to a stored message's text (an edit, a delete's tombstone) must call `reindex` or
`unindex` in the transaction of that UPDATE. Rows of deleted events go with them (the trigger
`message_search_gone` on both: on PostgreSQL a statement-level one over the deleted rows, in
place of a foreign key that cost a check and a row lock per indexed message).

Tokens and query terms come from `core.search`, identical for both databases: SQLite's FTS5 table
(`tokenize='ascii'` only splits on the spaces between tokens) is asked an FTS5 MATCH, PostgreSQL's
tsvector rows a tsquery, both built from the same terms. Neither index keeps positions: a CJK
run of two or more characters is asked as all of its bigrams, and the run itself is then looked
for in the candidate's text (`_RUN`), so it matches exactly where it occurs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import search
from parley.core.models import Event
from parley.store.events import COLUMNS, INDEX_SQL, event_from_row, index_body

# SQLite's FTS5 table and the shadow tables FTS5 keeps for it; tables.py describes the
# PostgreSQL shape, so a schema comparison on SQLite leaves these out.
SQLITE_ONLY = frozenset({"message_search", "message_search_data", "message_search_idx", "message_search_content",
                         "message_search_docsize", "message_search_config"})

_SELECTED = ", ".join(f"{c.table.name}.{c.name}" for c in COLUMNS)
_FROM = {
    # CROSS JOIN fixes SQLite's join order: walk the index newest first, look each event up by id.
    "sqlite": ("message_search CROSS JOIN events ON events.id = message_search.rowid",
               "message_search MATCH :q", "message_search.rowid"),
    # "+ 0": never walk the primary key backwards testing each row (a plan the planner likes for
    # words it believes common, and the one a cached generic plan falls back to): the GIN scan of
    # the eras asked, bounded by their size, is always the better one.
    "postgresql": ("message_search JOIN events ON events.id = message_search.event_id",
                   "message_search.tsv @@ CAST(:q AS tsquery)",
                   "message_search.event_id + 0"),
}
# A CJK run of the query (core.search.runs) must occur in the message's current text as typed.
_RUN = {"sqlite": "instr(events.text, :{}) > 0", "postgresql": "strpos(events.text, :{}) > 0"}
_HAS_FILE = {
    "sqlite": "json_type(events.data, '$.attachments') = 'array' AND json_array_length(events.data, '$.attachments') > 0",
    "postgresql": "jsonb_typeof(CAST(events.data AS jsonb) -> 'attachments') = 'array' "
                  "AND CAST(events.data AS jsonb) -> 'attachments' <> CAST('[]' AS jsonb)",
}
# Readable: any message of a room the user is joined to; up to their leave in one they left.
_READABLE = ("JOIN members ON members.room_id = events.room_id AND members.user_id = :me "
             "AND (members.state = 'joined' OR (members.state = 'left' AND events.seq <= members.left_seq))")


@dataclass(frozen=True, slots=True)
class Filters:
    """What narrows a search besides its words (all optional)."""

    room_id: int | None = None
    sender_id: int | None = None
    has_file: bool = False
    below_id: int | None = None  # the paging cursor: event ids below this one
    seq_before: int | None = None  # seq bounds apply with room_id only
    seq_after: int | None = None
    ts_before: int | None = None  # milliseconds; ts < ts_before
    ts_after: int | None = None  # ts >= ts_after


def _conditions(dialect: str, f: Filters) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    for name, column, op in (("room_id", "events.room_id", "="), ("sender_id", "events.sender_id", "="),
                             ("below_id", "events.id", "<"), ("seq_before", "events.seq", "<"),
                             ("seq_after", "events.seq", ">"), ("ts_before", "events.ts", "<"),
                             ("ts_after", "events.ts", ">=")):
        value = getattr(f, name)
        if value is not None:
            where.append(f"{column} {op} :{name}")
            params[name] = value
    if f.has_file:
        where.append(_HAS_FILE[dialect])
    return where, params


# PostgreSQL searches era by era (core.search.ERA_BITS), newest first: the newest era alone, then
# the next 3, then 12, then 48 at a time. A common word fills its page from the newest era; a rare
# one costs a few cheap queries (three up to 16 eras, a million events).
ERA_STEPS = (1, 3, 12)
ERA_STEP_MAX = 48


async def find(conn: AsyncConnection, user_id: int, terms: list[search.Term], filters: Filters,
               limit: int, any_of: list[str] | None = None) -> list[Event]:
    """Messages matching every term (and one of the facets `any_of`) that `user_id` may read,
    newest (highest event id) first."""
    dialect = conn.dialect.name
    source, match, key = _FROM[dialect]
    where, params = _conditions(dialect, filters)
    for i, run in enumerate(search.runs(terms)):
        where.append(_RUN[dialect].format(f"run{i}"))
        params[f"run{i}"] = run
    sql = sa.text(f"SELECT {_SELECTED} FROM {source} {_READABLE} LEFT JOIN users ON users.id = events.sender_id "
                  f"WHERE {' AND '.join([match, *where])} ORDER BY {key} DESC LIMIT :limit")
    params |= {"me": user_id, "limit": limit}
    if dialect != "postgresql":
        rows = await conn.execute(sql, {**params, "q": search.fts5_query(terms, any_of)})
        return [event_from_row(r) for r in rows]
    top = (filters.below_id - 1 if filters.below_id is not None
           else await conn.scalar(sa.text("SELECT max(event_id) FROM message_search")))
    found: list[Event] = []
    upper = search.era(top) if top is not None and top > 0 else -1
    steps = iter(ERA_STEPS)
    while upper >= 0 and len(found) < limit:
        lower = max(upper - next(steps, ERA_STEP_MAX) + 1, 0)
        query = search.tsquery(terms, list(range(upper, lower - 1, -1)), any_of)
        rows = await conn.execute(sql, {**params, "q": query, "limit": limit - len(found)})
        found += [event_from_row(r) for r in rows]
        upper = lower - 1
    return found


async def reindex(conn: AsyncConnection, room_id: int, seq: int, text: str) -> None:
    """Index a message's new text (an edit), in the caller's transaction: its old tokens go."""
    row = (await conn.execute(sa.text(
        "SELECT id, sender_id FROM events WHERE room_id = :r AND seq = :s AND type = 'message'"),
        {"r": room_id, "s": seq})).one_or_none()
    if row is None:
        return
    event_id, sender_id = row
    await _drop(conn, event_id)
    body = index_body(conn.dialect.name, text, room_id, sender_id, event_id)
    if body is None:
        return
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("INSERT INTO message_search (event_id, tsv) VALUES (:i, CAST(:b AS tsvector))"),
                           {"i": event_id, "b": body})
    else:
        await conn.exec_driver_sql(INDEX_SQL, (event_id, body))


async def unindex(conn: AsyncConnection, room_id: int, seq: int) -> None:
    """Drop a message from the index (a delete), in the caller's transaction."""
    event_id = await _event_id(conn, room_id, seq)
    if event_id is not None:
        await _drop(conn, event_id)


async def _event_id(conn: AsyncConnection, room_id: int, seq: int) -> int | None:
    return await conn.scalar(sa.text("SELECT id FROM events WHERE room_id = :r AND seq = :s AND type = 'message'"),
                             {"r": room_id, "s": seq})


async def _drop(conn: AsyncConnection, event_id: int) -> None:
    key = "event_id" if conn.dialect.name == "postgresql" else "rowid"
    await conn.execute(sa.text(f"DELETE FROM message_search WHERE {key} = :i"), {"i": event_id})


async def user_id_of(conn: AsyncConnection, name: str) -> int | None:
    """A user's id by username (any case), for the `from` filter."""
    return await conn.scalar(sa.text("SELECT id FROM users WHERE username_lower = :n"), {"n": name.lower()})


async def readable_rooms(conn: AsyncConnection, user_id: int) -> list[int]:
    """The rooms the user may search: joined, or left after having been joined."""
    rows = await conn.execute(sa.text(
        "SELECT room_id FROM members WHERE user_id = :u AND (state = 'joined' OR (state = 'left' AND left_seq > 0))"),
        {"u": user_id})
    return sorted(r[0] for r in rows)


async def readable_room(conn: AsyncConnection, room_id: int, user_id: int) -> bool:
    """Whether the user may search the room: joined, or left after having been joined."""
    row = await conn.scalar(sa.text(
        "SELECT 1 FROM members WHERE room_id = :r AND user_id = :u "
        "AND (state = 'joined' OR (state = 'left' AND left_seq > 0))"), {"r": room_id, "u": user_id})
    return row is not None
