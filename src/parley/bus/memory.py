"""The single-node bus: publish calls the local handler directly; buckets and presence in memory."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

from parley.bus.base import BusMessage, Handler
from parley.core.ratelimit import Rate, take


class MemoryBus:
    def __init__(self) -> None:
        self.node_id = uuid.uuid4().hex[:12]
        self._handler: Handler | None = None
        self._channels: set[str] = set()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._connections: defaultdict[int, int] = defaultdict(int)

    async def start(self, handler: Handler) -> None:
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
        tokens, updated = self._buckets.get(key, (rate.burst, now))
        allowed, left, wait = take(tokens, updated, now, rate, cost)
        self._buckets[key] = (left, now)
        if len(self._buckets) > 100_000:
            self._forget_full(now, rate)
        return 0.0 if allowed else wait

    def _forget_full(self, now: float, rate: Rate) -> None:
        """Drop buckets that have refilled; they are the same as absent ones."""
        full_after = rate.burst / rate.per_second if rate.per_second else float("inf")
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}

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
