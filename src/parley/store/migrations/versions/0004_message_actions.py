"""Message actions (issue 10): edit history, reactions, pins, thread index, user status.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
THREADED = "thread_root IS NOT NULL"


def upgrade() -> None:
    # Plain ADD COLUMNs (no table rebuild on SQLite, no rewrite on PostgreSQL).
    op.add_column("users", sa.Column("status", sa.String(80), nullable=False, server_default=""))
    op.add_column("events", sa.Column("thread_root", sa.BigInteger, nullable=True))
    op.create_index("ix_events_thread", "events", ["room_id", "thread_root", "seq"],
                    sqlite_where=sa.text(THREADED), postgresql_where=sa.text(THREADED))
    op.create_table(
        "message_versions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("written_at", sa.BigInteger, nullable=False),
        sa.Column("replaced_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_message_versions_message", "message_versions", ["room_id", "seq"])
    op.create_table(
        "reactions",
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("emoji", sa.String(128), primary_key=True),
        sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "pins",
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("pinned_by", Id, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("pinned_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pins")
    op.drop_table("reactions")
    op.drop_index("ix_message_versions_message", "message_versions")
    op.drop_table("message_versions")
    op.drop_index("ix_events_thread", "events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("thread_root")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("status")
