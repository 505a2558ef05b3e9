"""The single-node bus: publish calls the local handler directly; buckets and presence in memory."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

from parley.bus.base import BusMessage, Handler, Resync
from parley.core.ratelimit import Rate, take


class MemoryBus:
    lossy = False

    def __init__(self) -> None:
        self.node_id = uuid.uuid4().hex[:12]
        self._handler: Handler | None = None
        self._channels: set[str] = set()
        # key -> (tokens, updated, full_at): full_at is when the bucket, at its own rate, is full
        # again, so a crowd of keys can be pruned without resetting a slow bucket early.
        self._buckets: dict[str, tuple[float, float, float]] = {}
        self._prune_at = 100_000
        self._connections: defaultdict[int, int] = defaultdict(int)

    async def start(self, handler: Handler, resync: Resync | None = None) -> None:
        self._handler = handler

    async def close(self) -> None:
        self._handler = None

    async def publish(self, channel: str, message: BusMessage) -> None:
        if self._handler is not None and channel in self._channels:
            self._handler(channel, message)

    def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def hit(self, key: str, rate: Rate, cost: float = 1.0) -> float:
        now = time.monotonic()
        tokens, updated, _ = self._buckets.get(key, (rate.burst, now, now))
        allowed, left, wait = take(tokens, updated, now, rate, cost)
        refill = (rate.burst - left) / rate.per_second if rate.per_second > 0 else float("inf")
        self._buckets[key] = (left, now, now + refill)
        if len(self._buckets) > self._prune_at:
            self._forget_full(now)
        return 0.0 if allowed else wait

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (the same as absent ones); prune again only when the
        table has doubled, so pruning stays cheap per hit."""
        self._buckets = {k: v for k, v in self._buckets.items() if v[2] > now}
        self._prune_at = max(100_000, 2 * len(self._buckets))

    async def presence_change(self, user_id: int, delta: int) -> bool:
        before = self._connections[user_id]
        after = max(0, before + delta)
        if after:
            self._connections[user_id] = after
        else:
            self._connections.pop(user_id, None)
        return (before > 0) != (after > 0)

    async def online(self, user_ids: list[int]) -> set[int]:
        return {u for u in user_ids if self._connections.get(u)}

    async def dead_node_users(self) -> list[int]:
        return []  # one node: it cannot outlive itself
