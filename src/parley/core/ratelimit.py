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
