"""SQLite's search table without its per-document length table; a ban ends reading what came
before it.

Revision ID: 0014
Revises: 0012

SQLite: the FTS5 table `message_search` is built again with `columnsize = 0` (nothing ranks by
length: search orders by event id and cuts snippets in Python), so each message indexed writes no
`message_search_docsize` row; the tokenizer and the prefix indexes for 2 and 3 characters are as in
0005. Every existing message is indexed again, 5,000 at a time. (Tried and left out: tokens led by
their era with no prefix indexes, which wrote every token once instead of three times but made
common short words 7 to 60 times slower to find; docs/performance.md.)

Both databases: a member who left reads the room's history up to their leave (`members.left_seq`,
which search already honoured); a ban sets it to 0, so members banned now read nothing there.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

from parley.store.events import index_body

revision = "0014"
down_revision = "0012"  # re-chained at merge

CHUNK = 5000
_TABLES = {
    "upgrade": "CREATE VIRTUAL TABLE message_search USING fts5(body, tokenize = 'ascii', prefix = '2 3', columnsize = 0)",
    "downgrade": "CREATE VIRTUAL TABLE message_search USING fts5(body, tokenize = 'ascii', prefix = '2 3')",
}


def _rebuild(way: str) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    op.execute("DROP TABLE message_search")  # the trigger message_search_gone names it, and goes on working
    op.execute(_TABLES[way])
    last = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT id, text, room_id, sender_id FROM events WHERE type = 'message' AND text IS NOT NULL AND id > :last "
            "ORDER BY id LIMIT :n"), {"last": last, "n": CHUNK}).all()
        if not rows:
            return
        last = rows[-1][0]
        values = [{"i": i, "b": body} for i, text, room, sender in rows
                  if (body := index_body("sqlite", text, room, sender)) is not None]
        if values:
            conn.execute(sa.text("INSERT INTO message_search (rowid, body) VALUES (:i, :b)"), values)


def upgrade() -> None:
    _rebuild("upgrade")
    op.get_bind().execute(sa.text(
        "UPDATE members SET left_seq = 0 WHERE state = 'left' AND EXISTS (SELECT 1 FROM room_bans b "
        "WHERE b.room_id = members.room_id AND b.user_id = members.user_id AND (b.until IS NULL OR b.until > :now))"),
        {"now": int(time.time() * 1000)})


def downgrade() -> None:
    _rebuild("downgrade")
