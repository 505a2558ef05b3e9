"""Token bucket arithmetic, kept pure so any store of bucket state (memory, Redis) can use it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    burst: float
    per_second: float


def take(tokens: float, updated: float, now: float, rate: Rate, cost: float = 1.0) -> tuple[bool, float, float]:
    """Refill a bucket to `now` and try to take `cost`. Returns (allowed, tokens_left, retry_after_s).

    A cost of 0 asks whether a whole token is there without spending it (used to refuse logins
    while an account's failure bucket is empty, and to spend only on failure)."""
    tokens = min(rate.burst, tokens + max(0.0, now - updated) * rate.per_second)
    need = max(cost, 1.0)
    if tokens >= need:
        return True, tokens - cost, 0.0
    wait = (need - tokens) / rate.per_second if rate.per_second > 0 else float("inf")
    return False, tokens, wait


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
