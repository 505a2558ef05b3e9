"""Moderation (issue 11): the audit log, room bans, mutes, slow mode and post policy.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("actor_id", Id, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True),
        sa.Column("target_id", Id, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("data", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_log_room", "audit_log", ["room_id", "id"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor_id", "id"])
    op.create_table(
        "room_bans",
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("by", Id, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("until", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    # Plain ADD COLUMNs (no table rebuild on SQLite, no rewrite on PostgreSQL).
    op.add_column("members", sa.Column("muted_until", sa.BigInteger, nullable=True))
    op.add_column("rooms", sa.Column("slow_mode_s", sa.Integer, nullable=False, server_default="0"))
    op.add_column("rooms", sa.Column("post_policy", sa.String(16), nullable=False, server_default="everyone"))


def downgrade() -> None:
    with op.batch_alter_table("rooms") as batch:
        batch.drop_column("post_policy")
        batch.drop_column("slow_mode_s")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("muted_until")
    op.drop_table("room_bans")
    op.drop_index("ix_audit_log_actor", "audit_log")
    op.drop_index("ix_audit_log_room", "audit_log")
    op.drop_table("audit_log")
