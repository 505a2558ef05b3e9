"""Online presence: a user is online while at least one of their connections is open, on any node."""

from __future__ import annotations

from parley.core.models import User
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import rooms as room_store
from parley.store import users as user_store

REVOCATIONS_KEPT_MS = 86_400_000


class Presence:
    def __init__(self, deps: Deps, emitter: Emitter) -> None:
        self.deps = deps
        self.emitter = emitter

    async def connected(self, user: User, rooms: list[int]) -> None:
        if await self.deps.bus.presence_change(user.id, +1):
            await self.emitter.presence(user.id, True, rooms)

    async def disconnected(self, user: User, rooms: list[int]) -> None:
        if await self.deps.bus.presence_change(user.id, -1):
            await self.emitter.presence(user.id, False, rooms)

    async def reap(self) -> None:
        """Users whose only connections were on a node that died go offline for everyone."""
        for user_id in await self.deps.bus.dead_node_users():
            if not await self.deps.bus.online([user_id]):
                async with self.deps.db.read() as conn:
                    rooms = list(await room_store.joined_cursors(conn, user_id))
                await self.emitter.presence(user_id, False, rooms)

    async def live_sessions(self, session_ids: list[int]) -> set[int]:
        async with self.deps.db.read() as conn:
            return await user_store.live_sessions(conn, session_ids, self.deps.clock())

    async def revocation_head(self) -> int:
        """The id of the latest logged revocation (0: none)."""
        async with self.deps.db.read() as conn:
            return await user_store.revocation_head(conn)

    async def revocations_after(self, after: int, limit: int = 1000) -> list[tuple[int, int, int]]:
        """(id, user_id, session_id) logged after `after`; session_id 0 means all of the user's."""
        async with self.deps.db.read() as conn:
            return await user_store.revocations_after(conn, after, limit)

    async def prune_revocations(self) -> None:
        """Forget revocations old enough that every node has read them."""
        async with self.deps.db.write() as conn:
            await user_store.prune_revocations(conn, self.deps.clock() - REVOCATIONS_KEPT_MS)

    async def cursors(self, user: User) -> dict[int, tuple[int, int]]:
        """{room: (last_seq, joined_seq)} for every room the user is joined to."""
        return await self.deps.db.connects.joined_cursors(user.id)

    async def last_seqs(self, rooms: list[int]) -> dict[int, int]:
        if not rooms:
            return {}
        return await self.deps.db.connects.room_ends(rooms)
