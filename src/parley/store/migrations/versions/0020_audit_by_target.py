"""Audit entries by target: GET /api/v1/me/held also lists which of my held messages a moderator
rejected lately (so a client that was away shows "Not delivered" rather than dropping the copy);
it reads `reject_message` entries by target_id.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"


def upgrade() -> None:
    op.create_index("ix_audit_log_target", "audit_log", ["target_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_target", "audit_log")
