"""Privacy (issue 11): per-room retention, and deleted accounts.

Revision ID: 0011
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    with op.batch_alter_table("rooms") as batch:
        # Days a room keeps its messages: null follows PARLEY_RETENTION_DAYS, 0 keeps them forever.
        batch.add_column(sa.Column("retention_days", sa.Integer, nullable=True))
        # Every message below this seq has been erased by retention: the next sweep starts there.
        batch.add_column(sa.Column("purged_seq", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("deleted_at", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deleted_at")
    with op.batch_alter_table("rooms") as batch:
        batch.drop_column("purged_seq")
        batch.drop_column("retention_days")
