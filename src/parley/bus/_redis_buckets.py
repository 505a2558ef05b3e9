"""Rate buckets shared by the nodes through Redis, checked locally most of the time.

After each sync with Redis a node may spend, without asking, its share of the bucket: the tokens
Redis had, divided by the live nodes (counted in the same script), refilling at rate / nodes.
What it spends is written back to Redis within RECONCILE_S (one script call for every bucket
that changed); a hit beyond the share asks Redis at once, which applies what was spent first.

Tolerance: a key used on one node only is limited exactly as before. Used on several nodes at
once, the shares they hold come on top of what Redis still has, so within one reconcile period
the cluster admits at most one burst more than the bucket allows; Redis keeps the excess as debt
(tokens below zero), so later hits wait it off and over a longer window the rate holds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from parley.core.ratelimit import Rate

RECONCILE_S = 0.1  # how long spending stays local before Redis has it
IDLE_S = 2.0  # a local view unused this long is forgotten (the next hit asks Redis)
MAX_LOCAL = 100_000  # local views at most; the oldest idle ones go first
CHUNK = 500  # buckets per reconcile script call

# KEYS: the live-node sorted set, then buckets. ARGV: the oldest live heartbeat (ms), then per
# bucket burst, per_second, spent, cost. `spent` was taken on this node already (negative:
# refunded) and is applied unconditionally; then `cost` is taken if there (-1: take nothing,
# 0: only ask). Returns the live nodes, then per bucket the wait ("0": allowed) and the tokens left.
# Nothing is written when nothing changed; a bucket full again is deleted.
SYNC = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local out = {redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')}
for i = 2, #KEYS do
  local j = (i - 2) * 4 + 1
  local burst, rate = tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
  local spent, cost = tonumber(ARGV[j + 3]), tonumber(ARGV[j + 4])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst
  local ts = tonumber(state[2]) or now
  tokens = math.min(burst, math.min(burst, tokens + math.max(0, now - ts) * rate) - spent)
  local wait, take = 0, 0
  if cost >= 0 then
    local need = math.max(cost, 1)
    if tokens < need then wait = (need - tokens) / rate else take = cost end
  end
  tokens = tokens - take
  if spent ~= 0 or take > 0 then
    if tokens >= burst then
      redis.call('DEL', KEYS[i])
    else
      redis.call('HSET', KEYS[i], 'tokens', tostring(tokens), 'ts', tostring(now))
      redis.call('PEXPIRE', KEYS[i], math.ceil((burst - tokens) / rate * 1000) + 1000)
    end
  end
  out[#out + 1] = tostring(wait)
  out[#out + 1] = tostring(tokens)
end
return out
"""


@dataclass(slots=True)
class _View:
    rate: Rate
    share: float  # what this node may still take without asking Redis
    at: float  # when `share` was last brought up to date (it refills at rate / nodes)
    nodes: int
    spent: float = 0.0  # taken here, not yet applied in Redis
    used: float = 0.0  # last hit, for forgetting idle views


class SharedBuckets:
    """`script` runs SYNC (a registered redis-py script); `nodes_key`/`node_ttl_ms` count live nodes."""

    def __init__(self, script: Any, nodes_key: str, node_ttl_ms: int) -> None:
        self._script = script
        self._nodes_key = nodes_key
        self._node_ttl_ms = node_ttl_ms
        self._views: dict[str, _View] = {}
        self._dirty: set[str] = set()
        self._pruned = 0.0  # when idle views were last looked for (every IDLE_S, not every reconcile)
        self.round_trips = 0  # script calls (the tests count them)

    def local(self, key: str, rate: Rate, cost: float) -> bool:
        """Take `cost` (0: only ask) from this node's share; False if it must ask Redis."""
        view = self._views.get(key)
        if view is None or view.rate != rate:
            return False
        now = time.monotonic()
        share = min(rate.burst / view.nodes, view.share + (now - view.at) * rate.per_second / view.nodes)
        if share < max(cost, 1.0):
            return False
        view.share, view.at, view.used = share - cost, now, now
        if cost > 0:
            view.spent += cost
            self._dirty.add(key)
        return True

    async def ask(self, key: str, rate: Rate, cost: float) -> float:
        """One round trip: apply what was spent here, then take `cost`. Returns the wait (0.0: allowed)."""
        waits = await self._sync([(key, rate, cost)])
        return waits[0]

    async def refund(self, key: str, rate: Rate, amount: float) -> None:
        view = self._views.get(key)
        if view is not None:
            view.spent -= amount
        else:
            self._views[key] = _View(rate, 0.0, time.monotonic(), 1, -amount)
        await self._sync([(key, rate, -1.0)])

    async def reconcile(self) -> None:
        """Write back what was spent locally; forget views left idle."""
        keys = list(self._dirty)
        for start in range(0, len(keys), CHUNK):
            items = [(k, self._views[k].rate, -1.0) for k in keys[start:start + CHUNK] if k in self._views]
            if items:
                await self._sync(items)
        now = time.monotonic()
        if now - self._pruned < IDLE_S and len(self._views) <= MAX_LOCAL:
            return
        self._pruned, cutoff = now, now - IDLE_S
        idle = [k for k, v in self._views.items() if v.used < cutoff and k not in self._dirty]
        if len(self._views) - len(idle) > MAX_LOCAL:
            idle = list(self._views)[: len(self._views) - MAX_LOCAL // 2]
        for key in idle:
            if key not in self._dirty:
                del self._views[key]

    async def run(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_S)
            await self.reconcile()

    async def _sync(self, items: list[tuple[str, Rate, float]]) -> list[float]:
        sent = []
        for key, _, _ in items:
            view = self._views.get(key)
            sent.append(view.spent if view is not None else 0.0)
            if view is not None:
                view.spent = 0.0
            self._dirty.discard(key)
        args: list[Any] = [int(time.time() * 1000) - self._node_ttl_ms]
        for (_, rate, cost), spent in zip(items, sent, strict=True):
            args += [rate.burst, rate.per_second, spent, cost]
        try:
            out = await self._script(keys=[self._nodes_key, *(k for k, _, _ in items)], args=args)
        except BaseException:
            for (key, rate, _), spent in zip(items, sent, strict=True):
                self._unsent(key, rate, spent)
            raise
        self.round_trips += 1
        nodes = max(1, int(out[0]))
        now = time.monotonic()
        waits = []
        for i, (key, rate, _) in enumerate(items):
            wait, tokens = float(out[1 + 2 * i]), float(out[2 + 2 * i])
            view = self._views.get(key)
            if view is None:
                view = self._views[key] = _View(rate, 0.0, now, nodes, used=now)
            # Spent here while the script ran: Redis does not have it yet, the share must not either.
            view.rate, view.nodes, view.at = rate, nodes, now
            view.share = max(0.0, tokens) / nodes - max(0.0, view.spent)
            waits.append(wait)
        return waits

    def _unsent(self, key: str, rate: Rate, spent: float) -> None:
        """Redis did not get it: keep it for the next reconcile."""
        if spent == 0:
            return
        view = self._views.setdefault(key, _View(rate, 0.0, time.monotonic(), 1))
        view.spent += spent
        self._dirty.add(key)
