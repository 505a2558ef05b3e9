"""Message search: the index, and how far a member who left may still search.

Revision ID: 0005
Revises: 0003

SQLite gets an FTS5 virtual table `message_search` (rowid = event id; the `ascii` tokenizer only
splits on the spaces between the tokens that core/search.py made; prefix indexes for 2 and 3
characters, without which a common short prefix such as "the" merged the doclists of every word
it begins, 140 ms at a million messages against 4 ms) and a trigger that drops a
row when its event goes; PostgreSQL a tsvector table under a GIN index. Every existing message is
indexed, and `members.left_seq` is filled from each left member's latest `member_left`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

from parley.core.search import ERA_MARK
from parley.store.events import index_body

revision = "0005"
down_revision = "0004"  # re-chained after 0004 (message actions) at merge

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHUNK = 5000


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    op.add_column("members", sa.Column("left_seq", sa.BigInteger, nullable=False, server_default="0"))
    # A joined member's leave is the latest member_left they sent; a declined invitation (never
    # joined) cannot be told apart here and is treated alike: the room stays readable up to it only
    # for search, which is what a leave after joining gives.
    conn.execute(sa.text(
        "UPDATE members SET left_seq = COALESCE((SELECT max(e.seq) FROM events e WHERE e.room_id = members.room_id "
        "AND e.type = 'member_left' AND e.sender_id = members.user_id), 0) WHERE state = 'left'"))
    if dialect == "sqlite":
        op.execute("CREATE VIRTUAL TABLE message_search USING fts5(body, tokenize = 'ascii', prefix = '2 3')")
        op.execute("CREATE TRIGGER message_search_gone AFTER DELETE ON events "
                   "BEGIN DELETE FROM message_search WHERE rowid = old.id; END")
        insert = "INSERT INTO message_search (rowid, body) VALUES (:i, :b)"
    else:
        op.create_table(
            "message_search",
            sa.Column("event_id", Id, sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True,
                      autoincrement=False),
            sa.Column("tsv", TSVECTOR(), nullable=False),
        )
        op.create_index("ix_message_search_tsv", "message_search", ["tsv"], postgresql_using="gin")
        insert = "INSERT INTO message_search (event_id, tsv) VALUES (:i, CAST(:b AS tsvector))"
    _backfill(conn, dialect, insert)


def _backfill(conn: sa.Connection, dialect: str, insert: str) -> None:
    last = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT id, text, room_id, sender_id FROM events WHERE type = 'message' AND text IS NOT NULL AND id > :last "
            "ORDER BY id LIMIT :n"), {"last": last, "n": CHUNK}).all()
        if not rows:
            return
        last = rows[-1][0]
        # The lexemes as this revision stored them, without the era mark that 0012 fills in.
        values = [{"i": i, "b": body.replace(ERA_MARK, "")} for i, text, room, sender in rows
                  if (body := index_body(dialect, text, room, sender)) is not None]
        if values:
            conn.execute(sa.text(insert), values)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS message_search_gone")
        op.execute("DROP TABLE message_search")
    else:
        op.drop_index("ix_message_search_tsv", "message_search")
        op.drop_table("message_search")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("left_seq")
