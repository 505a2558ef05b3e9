"""Blocking users (issue 11). The blocked user is never told: no event, frame or answer of theirs changes."""

from __future__ import annotations

from typing import Any

from parley.core import blocks as rules
from parley.core.errors import NotFound, RateLimited
from parley.core.models import User
from parley.services.deps import Deps
from parley.store import blocks as store
from parley.store import users as user_store


class Blocks:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def listed(self, user: User) -> list[dict[str, Any]]:
        async with self.deps.db.read() as conn:
            return await store.listed(conn, user.id)

    async def ids(self, user: User) -> list[int]:
        async with self.deps.db.read() as conn:
            return await store.blocked_ids(conn, user.id)

    async def block(self, user: User, target_id: int) -> bool:
        """Block `target_id`; idempotent. Returns whether anything changed."""
        await self._rate(user)
        async with self.deps.db.write() as conn:
            rules.require_blockable(user.id, target_id, await store.count(conn, user.id))
            if await user_store.by_id(conn, target_id) is None:
                raise NotFound("no such user")
            return await store.add(conn, user.id, target_id, self.deps.clock())

    async def unblock(self, user: User, target_id: int) -> bool:
        await self._rate(user)
        async with self.deps.db.write() as conn:
            return await store.remove(conn, user.id, target_id)

    async def _rate(self, user: User) -> None:
        wait = await self.deps.bus.hit(f"action:{user.id}", self.deps.limits.action_rate)
        if wait:
            raise RateLimited(f"too many changes; retry in {wait:.1f} s", wait)
