"""Bots and webhooks (issue 12): bot accounts, outgoing webhooks with their delivery queue and
cursors, incoming webhooks, slash commands.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("bot", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("bot_owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                   nullable=True))
        batch.create_foreign_key("fk_users_bot_owner", "users", ["bot_owner_id"], ["id"], ondelete="CASCADE")
        batch.create_index("ix_users_bot_owner_id", ["bot_owner_id"])
    op.create_table(
        "bot_webhooks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("bot_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("rooms", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "webhook_cursors",
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("webhook_id", Id, sa.ForeignKey("bot_webhooks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("room_id", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_at", sa.BigInteger, nullable=False),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("webhook_id", "room_id", "seq", name="uq_webhook_deliveries_event"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_at"])
    op.create_table(
        "bot_hooks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("bot_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("room_id", Id, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "bot_commands",
        sa.Column("bot_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("description", sa.String(200), nullable=False, server_default=""),
        sa.Column("usage", sa.String(100), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("bot_commands")
    op.drop_table("bot_hooks")
    op.drop_index("ix_webhook_deliveries_due", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_cursors")
    op.drop_table("bot_webhooks")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_bot_owner_id")
        batch.drop_constraint("fk_users_bot_owner", type_="foreignkey")
        batch.drop_column("bot_owner_id")
        batch.drop_column("bot")
