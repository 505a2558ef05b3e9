"""Public room names are unique, ignoring case.

Revision ID: 0003
Revises: 0002

Rooms that already share a name keep the oldest as it is; the others are renamed "name (2)",
"name (3)"... rather than failing the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

NAME_MAX = 80
PUBLIC = "kind = 'room' AND visibility = 'public'"


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(f"SELECT id, name FROM rooms WHERE {PUBLIC} ORDER BY id")).all()
    taken = {name.lower() for _, name in rows}
    seen: set[str] = set()
    for room_id, name in rows:
        if name.lower() not in seen:
            seen.add(name.lower())
            continue
        fresh = _free_name(name, taken)
        taken.add(fresh.lower())
        seen.add(fresh.lower())
        conn.execute(sa.text("UPDATE rooms SET name = :name WHERE id = :id"), {"name": fresh, "id": room_id})
    op.create_index("uq_rooms_public_name", "rooms", [sa.text("lower(name)")], unique=True,
                    sqlite_where=sa.text(PUBLIC), postgresql_where=sa.text(PUBLIC))


def _free_name(name: str, taken: set[str]) -> str:
    n = 2
    while True:
        suffix = f" ({n})"
        candidate = name[: NAME_MAX - len(suffix)].rstrip() + suffix
        if candidate.lower() not in taken:
            return candidate
        n += 1


def downgrade() -> None:
    op.drop_index("uq_rooms_public_name", "rooms")
