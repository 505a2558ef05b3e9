"""Voice and video calls (issue 13): running calls and their participant connections.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("started_by", Id, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("answered_at", sa.BigInteger, nullable=True),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
        sa.Column("video", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_index("ix_calls_room", "calls", ["room_id", "ended_at"])
    op.create_table(
        "call_peers",
        sa.Column("peer", sa.String(32), primary_key=True),
        sa.Column("call_id", Id, sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("joined_at", sa.BigInteger, nullable=False),
        sa.Column("seen_at", sa.BigInteger, nullable=False),
        sa.Column("left_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_call_peers_call", "call_peers", ["call_id", "left_at"])
    op.create_index("ix_call_peers_seen", "call_peers", ["left_at", "seen_at"])


def downgrade() -> None:
    op.drop_table("call_peers")
    op.drop_table("calls")
