"""A leaner message search index: cheaper to write with every message (issue 10: indexing must add
at most 20 % to the cost of storing a message).

Revision ID: 0021
Revises: 0020

SQLite: the FTS5 table is built again with `detail=none` (no positions or columns kept per token,
the same `ascii` tokenizer and prefix indexes): its rows are copied over, so what was searchable
stays searchable. No query needs phrases any more: a CJK run is asked as all of its bigrams and
then found in the message text (store/search.py).

PostgreSQL: the foreign key message_search.event_id -> events (a check, with a row lock on the
new event, for every indexed message) gives way to a statement-level trigger on events that
drops the index rows of the deleted events, cascaded deletes (a room's) included. New rows are
written without positions; rows written with them before match as they did.
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"

_FTS5 = "CREATE VIRTUAL TABLE message_search USING fts5(body, tokenize = 'ascii', prefix = '2 3'{})"
_SQLITE_TRIGGER = ("CREATE TRIGGER message_search_gone AFTER DELETE ON events "
                   "BEGIN DELETE FROM message_search WHERE rowid = old.id; END")
_FK = "message_search_event_id_fkey"
_PG_FUNCTION = ("CREATE FUNCTION message_search_gone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "DELETE FROM message_search WHERE event_id IN (SELECT id FROM gone); RETURN NULL; END $$")
_PG_TRIGGER = ("CREATE TRIGGER message_search_gone AFTER DELETE ON events REFERENCING OLD TABLE AS gone "
               "FOR EACH STATEMENT EXECUTE FUNCTION message_search_gone()")


def _rebuild_fts5(options: str) -> None:
    op.execute("DROP TRIGGER IF EXISTS message_search_gone")
    op.execute("ALTER TABLE message_search RENAME TO message_search_old")
    op.execute(_FTS5.format(options))
    op.execute("INSERT INTO message_search (rowid, body) SELECT rowid, body FROM message_search_old")
    op.execute("DROP TABLE message_search_old")
    op.execute(_SQLITE_TRIGGER)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_fts5(", detail = none")
        return
    op.drop_constraint(_FK, "message_search", type_="foreignkey")
    op.execute(_PG_FUNCTION)
    op.execute(_PG_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_fts5("")
        return
    op.execute("DROP TRIGGER message_search_gone ON events")
    op.execute("DROP FUNCTION message_search_gone()")
    # Rows whose event went while there was no key (none, with the trigger) would fail the check.
    op.execute("DELETE FROM message_search WHERE NOT EXISTS (SELECT 1 FROM events WHERE events.id = event_id)")
    op.create_foreign_key(_FK, "message_search", "events", ["event_id"], ["id"], ondelete="CASCADE")
