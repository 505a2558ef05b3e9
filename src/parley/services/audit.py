"""Reading the audit log. Entries are written by each action's own service, inside its transaction
(`store.audit.record`); this service only answers who may read which of them."""

from __future__ import annotations

from typing import Any

from parley.core import audit
from parley.core.models import User
from parley.services.deps import Deps
from parley.store import audit as store
from parley.store import rooms as room_store


class Audit:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def entries(self, user: User, *, room: int | None = None, actor: int | None = None,
                      action: str | None = None, before: int | None = None, limit: int = 50) -> dict[str, Any]:
        """`{"entries": [...], "has_more"}`, newest first; `before` is the id of the oldest entry of the
        previous page. With a room: that room's entries (its admins, server admins). Without: every
        entry (server admins) or those of the rooms the user administers."""
        limit = max(1, min(limit, audit.PAGE_MAX))
        async with self.deps.db.read() as conn:
            rooms_in: list[int] | None = None
            if room is not None:
                found = await room_store.get(conn, room)
                audit.require_room_log_reader(user, found, await room_store.membership(conn, room, user.id))
            else:
                rooms_in = audit.require_log_reader(
                    user, [] if user.is_admin else await store.administered_rooms(conn, user.id))
            found_entries = await store.entries(conn, rooms_in=rooms_in, room=room, actor=actor, action=action,
                                                before=before, limit=limit + 1)
        return {"entries": found_entries[:limit], "has_more": len(found_entries) > limit}
