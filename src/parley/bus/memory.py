"""The single-node bus: publish calls the local handler directly; buckets and presence in memory."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import defaultdict

from parley.bus.base import BusMessage, Handler, Resync
from parley.core.ratelimit import Rate, bucket_id, give_back, take

# What one bucket costs at most in the table: a 16-byte key, a tuple of three floats and its share
# of the dict, rounded up (tests/unit/test_bus.py measures it). The budget bounds the table, so a
# flood of fresh keys costs at most BUCKET_BYTES, and the oldest buckets are forgotten first.
ENTRY_BYTES = 400
BUCKET_BYTES = 32 << 20
POSTED_MAX = 100_000  # (sender, text) keys the spam filter's cross-room signal remembers


class MemoryBus:
    lossy = False

    def __init__(self, bucket_bytes: int = BUCKET_BYTES) -> None:
        self.node_id = uuid.uuid4().hex[:12]
        self._handler: Handler | None = None
        self._channels: set[str] = set()
        # bucket_id(key) -> (tokens, updated, full_at), least recently changed first. full_at is
        # when the bucket, at its own rate, is full again (the same as absent), so a crowd of keys
        # is pruned without resetting a slow bucket early. A full bucket is never stored.
        self._buckets: dict[bytes, tuple[float, float, float]] = {}
        self.max_buckets = max(64, bucket_bytes // ENTRY_BYTES)
        self._connections: defaultdict[int, int] = defaultdict(int)
        self._posted: dict[str, dict[int, float]] = {}  # spam: text key -> {room: ms}, oldest first

    async def start(self, handler: Handler, resync: Resync | None = None) -> None:
        self._handler = handler

    async def close(self) -> None:
        self._handler = None

    async def publish(self, channel: str, message: BusMessage) -> None:
        if self._handler is not None and channel in self._channels:
            self._handler(channel, message)

    async def flush(self) -> None:
        return None  # delivered in publish already

    def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def rooms_posted(self, keys: list[str], window_ms: int) -> list[set[int]]:
        now = time.monotonic() * 1000
        return [{room for room, ts in self._posted.get(key, {}).items() if now - ts <= window_ms} for key in keys]

    async def note_posted(self, entries: list[tuple[str, int]], window_ms: int) -> None:
        now = time.monotonic() * 1000
        for key, room in entries:
            rooms = self._posted.pop(key, {})  # re-inserted last: the dict's order is the age order
            rooms[room] = now
            self._posted[key] = rooms
        while self._posted:  # the oldest first: gone once past the window, or past the bound
            key, rooms = next(iter(self._posted.items()))
            if len(self._posted) <= POSTED_MAX and now - max(rooms.values()) <= window_ms:
                break
            del self._posted[key]

    async def hit(self, key: str, rate: Rate, cost: float = 1.0) -> float:
        now = time.monotonic()
        bid = bucket_id(key)
        state = self._buckets.get(bid)
        tokens, updated = (rate.burst, now) if state is None else (state[0], state[1])
        allowed, left, wait = take(tokens, updated, now, rate, cost)
        if allowed and cost > 0:  # a refused or asking hit changes nothing worth keeping
            self._store(bid, left, now, rate)
        return 0.0 if allowed else wait

    async def refund(self, key: str, rate: Rate, amount: float = 1.0) -> None:
        bid = bucket_id(key)
        state = self._buckets.get(bid)
        if state is not None:
            now = time.monotonic()
            self._store(bid, give_back(state[0], state[1], now, rate, amount), now, rate)

    def _store(self, bid: bytes, tokens: float, now: float, rate: Rate) -> None:
        self._buckets.pop(bid, None)  # re-inserted last: the dict's order is the age order
        if tokens >= rate.burst:
            return
        refill = (rate.burst - tokens) / rate.per_second if rate.per_second > 0 else float("inf")
        self._buckets[bid] = (tokens, now, now + refill)
        if len(self._buckets) > self.max_buckets:
            self._prune(now)

    def _prune(self, now: float) -> None:
        """Full table: drop the refilled buckets, then the oldest, down to 7/8 of the cap, so that
        the next prune is an eighth of the table away and pruning stays cheap per hit."""
        self._buckets = {k: v for k, v in self._buckets.items() if v[2] > now}
        excess = len(self._buckets) - self.max_buckets * 7 // 8
        for bid in list(itertools.islice(self._buckets, max(0, excess))):
            del self._buckets[bid]

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
