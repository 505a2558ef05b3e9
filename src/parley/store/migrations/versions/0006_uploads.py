"""Uploads (files, images, voice and video messages) and avatars.

Revision ID: 0006
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("uploader_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("blob", sa.String(64), nullable=False),
        sa.Column("thumb", sa.String(64), nullable=True),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("duration_ms", sa.BigInteger, nullable=True),
        sa.Column("waveform", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("message_seq", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_uploads_room_id", "uploads", ["room_id", "id"])
    op.create_index("ix_uploads_uploader", "uploads", ["uploader_id"])
    op.create_index("ix_uploads_blob", "uploads", ["blob"])
    op.create_index("ix_uploads_thumb", "uploads", ["thumb"])
    op.create_index("ix_uploads_created_at", "uploads", ["created_at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("avatar", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("avatar")
    op.drop_table("uploads")
