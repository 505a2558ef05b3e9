"""Token bucket arithmetic, kept pure so any store of bucket state (memory, Redis) can use it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    burst: float
    per_second: float


def take(tokens: float, updated: float, now: float, rate: Rate, cost: float = 1.0) -> tuple[bool, float, float]:
    """Refill a bucket to `now` and try to take `cost`. Returns (allowed, tokens_left, retry_after_s).

    A cost of 0 asks whether a whole token is there without spending it (and a bus then stores
    nothing). Attempts whose check is costly pay first and are refunded (`give_back`) instead:
    asking first lets a burst of concurrent attempts all pass the question."""
    tokens = min(rate.burst, tokens + max(0.0, now - updated) * rate.per_second)
    need = max(cost, 1.0)
    if tokens >= need:
        return True, tokens - cost, 0.0
    wait = (need - tokens) / rate.per_second if rate.per_second > 0 else float("inf")
    return False, tokens, wait


def give_back(tokens: float, updated: float, now: float, rate: Rate, amount: float = 1.0) -> float:
    """Refill a bucket to `now` and return `amount` taken earlier (capped at the burst): an attempt
    pays before it is checked and is refunded when it turns out to be legitimate."""
    return min(rate.burst, tokens + max(0.0, now - updated) * rate.per_second + amount)


def bucket_id(key: str) -> bytes:
    """A fixed-size name for a bucket (16 bytes of SHA-256): whatever a client puts into a key
    (a name, a forwarded address), a bucket costs the same few bytes."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:16]


class Bucket:
    """One token bucket held in memory by its owner (say, one connection): no store, no key."""

    __slots__ = ("rate", "tokens", "updated")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.tokens = rate.burst
        self.updated = now

    def take(self, now: float) -> float:
        """Spend a token; returns 0 when allowed, else the seconds until one is there."""
        allowed, self.tokens, wait = take(self.tokens, self.updated, now, self.rate)
        self.updated = now
        return 0.0 if allowed else wait
