"""Held messages by sender: GET /api/v1/me/held (a sender's messages held for review, shown again
after a reload) reads them by sender_id.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    op.create_index("ix_held_messages_sender", "held_messages", ["sender_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_held_messages_sender", "held_messages")
