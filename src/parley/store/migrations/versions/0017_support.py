"""Customer service and the assistant (issue 12): support rooms, their knowledge base, the
conversations of the widget's visitors, and which accounts are the assistant or guests.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "support_accounts",
        sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "support_rooms",
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("greeting", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "support_entries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("room_id", Id, sa.ForeignKey("support_rooms.room_id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("tags", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_support_entries_room", "support_entries", ["room_id", "id"])
    op.create_table(
        "support_conversations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("support_room_id", Id, sa.ForeignKey("support_rooms.room_id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("guest_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("agent_id", Id, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("last_text", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_support_conversations_queue", "support_conversations", ["support_room_id", "state", "id"])


def downgrade() -> None:
    op.drop_table("support_conversations")
    op.drop_table("support_entries")
    op.drop_table("support_rooms")
    op.drop_table("support_accounts")
