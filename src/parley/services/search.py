"""Message search: only rooms the user may read (a room they left: up to their leave), newest
first, with snippets as structured parts (never markup)."""

from __future__ import annotations

import dataclasses
from typing import Any

from parley.core import search
from parley.core.errors import Invalid, NotFound, RateLimited
from parley.core.models import User
from parley.core.permissions import NO_ROOM
from parley.services.deps import Deps
from parley.store import search as store

LIMIT_MAX = 50
# Up to this many readable rooms, the index itself is narrowed to them (one facet each): a member
# of a few rooms never waits while the index walks matches in rooms they cannot read. Beyond, the
# matches are walked newest first and checked against the memberships.
FACET_ROOMS_MAX = 64


class Search:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def search(self, user: User, q: str, *, room_id: int | None = None, sender: str | None = None,
                     has: str | None = None, before: str | None = None, after: str | None = None,
                     limit: int = 20) -> dict[str, Any]:
        terms = search.parse(q)
        limit = max(1, min(limit, LIMIT_MAX))
        wait = await self.deps.bus.hit(f"search:{user.id}", self.deps.limits.search_rate)
        if wait:
            raise RateLimited("searches are limited to a few a second", wait)
        filters = _filters(room_id, has, before, after)
        async with self.deps.db.read() as conn:
            if room_id is not None and not await store.readable_room(conn, room_id, user.id):
                raise NotFound(NO_ROOM)
            if sender is not None:
                sender_id = await _sender(conn, sender)
                if sender_id is None:
                    return {"hits": [], "has_more": False, "next_before": None}
                filters = dataclasses.replace(filters, sender_id=sender_id)
                terms = [*terms, search.facet(search.user_facet(sender_id))]
            any_of = None
            if room_id is not None:
                terms = [*terms, search.facet(search.room_facet(room_id))]
            else:
                rooms = await store.readable_rooms(conn, user.id)
                if not rooms:
                    return {"hits": [], "has_more": False, "next_before": None}
                if len(rooms) <= FACET_ROOMS_MAX:
                    any_of = [search.room_facet(r) for r in rooms]
            found = await store.find(conn, user.id, terms, filters, limit + 1, any_of)
        has_more, found = len(found) > limit, found[:limit]
        hits = [{"room": e.room_id, "seq": e.seq, "snippet": search.snippet(e.data.get("text", ""), terms),
                 "message": e.wire()} for e in found]
        return {"hits": hits, "has_more": has_more,
                "next_before": search.cursor(found[-1].id) if has_more else None}


async def _sender(conn: Any, sender: str) -> int | None:
    if sender.isascii() and sender.isdigit():
        return int(sender) if len(sender) <= 18 else None  # beyond any id (and a 64-bit integer)
    return await store.user_id_of(conn, sender)


def _filters(room_id: int | None, has: str | None, before: str | None, after: str | None) -> store.Filters:
    values: dict[str, Any] = {"room_id": room_id, "has_file": has == "file"}
    for name, raw in (("before", before), ("after", after)):
        if raw is None:
            continue
        b = search.bound(raw, name)
        if b.cursor is not None:
            if name != "before":
                raise Invalid("a page cursor goes in before")
            values["below_id"] = b.cursor
        elif b.seq is not None:
            if room_id is None:
                raise Invalid(f"{name} as a seq needs a room")
            values[f"seq_{name}"] = b.seq
        else:
            values[f"ts_{name}"] = b.ts
    return store.Filters(**values)
