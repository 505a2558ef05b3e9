"""A kick or a ban ends reading what came before it.

Revision ID: 0014
Revises: 0012

A member who left reads the room's history up to their leave (`members.left_seq`, which search
already honoured; since this revision history does too). A kick or a ban now sets it to 0; this
revision does the same for the members banned now and those whose membership a kick or a ban
ended (their `left_seq` is that event's seq), so they read nothing of the room until they join
again. (A
rebuild of SQLite's FTS5 table with `columnsize = 0` was measured here and left out: it changed
nothing measurable; docs/performance.md.)
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"


def upgrade() -> None:
    op.get_bind().execute(sa.text(
        "UPDATE members SET left_seq = 0 WHERE state = 'left' AND (EXISTS (SELECT 1 FROM room_bans b "
        "WHERE b.room_id = members.room_id AND b.user_id = members.user_id AND (b.until IS NULL OR b.until > :now)) "
        "OR EXISTS (SELECT 1 FROM events e WHERE e.room_id = members.room_id AND e.seq = members.left_seq "
        "AND e.type IN ('member_kicked', 'member_banned')))"),
        {"now": int(time.time() * 1000)})


def downgrade() -> None:
    pass  # what a ban took away is not given back: the leaves' seqs are gone
