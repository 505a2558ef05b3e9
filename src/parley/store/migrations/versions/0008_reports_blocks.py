"""Reports of messages and their resolution; users blocking users.

Revision ID: 0008
Revises: 0006 (0007 once i11-mod's audit log is merged)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("sender_id", Id, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("reporter_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("snippet", sa.String(500), nullable=False, server_default=""),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("resolved_by", Id, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("action", sa.String(16), nullable=True),
        sa.Column("resolution_note", sa.String(500), nullable=False, server_default=""),
        sa.Column("resolved_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("room_id", "seq", "reporter_id", name="uq_reports_reporter"),
    )
    op.create_index("ix_reports_state", "reports", ["state", "id"])
    op.create_index("ix_reports_room", "reports", ["room_id", "state", "id"])
    op.create_index("ix_reports_reporter", "reports", ["reporter_id", "id"])
    op.create_table(
        "blocks",
        sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("blocked_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_blocks_blocked", "blocks", ["blocked_id"])


def downgrade() -> None:
    op.drop_table("blocks")
    op.drop_table("reports")
