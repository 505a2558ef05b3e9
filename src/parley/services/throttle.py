"""Attempts that cost a password hash (login, registration, password change): paid before they are
checked, and capped while in flight.

A bucket that is only charged after a failure lets a burst of concurrent guesses all pass the
check before the first failure lands; so every attempt takes its tokens first, and one that turns
out legitimate (a correct password) gets them back. Independently, each process caps the argon2
verifications in flight per address and per account, so a burst cannot queue up CPU work either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from parley.bus.base import Bus
from parley.core.errors import RateLimited
from parley.core.ratelimit import Rate

BUSY_RETRY_S = 1.0  # what a refusal for too many attempts in flight asks the client to wait

Charge = tuple[str, Rate]  # a bucket key and its rate
Slot = tuple[str, int]  # an in-flight counter key and its cap


class Attempt:
    """Handed to the block: `succeeded()` marks the attempt legitimate, so its tokens come back."""

    def __init__(self) -> None:
        self.ok = False

    def succeeded(self) -> None:
        self.ok = True


class Throttle:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._in_flight: dict[str, int] = {}

    def in_flight(self, key: str) -> int:
        return self._in_flight.get(key, 0)

    @asynccontextmanager
    async def attempt(self, charges: Sequence[Charge], slots: Sequence[Slot] = (), *,
                      message: str = "too many attempts; try again later") -> AsyncIterator[Attempt]:
        """Hold a slot of each counter and a token of each bucket for the block, or raise
        RateLimited (429) without holding or spending anything."""
        self._enter(slots, message)  # first, synchronously: no bucket is touched when busy
        try:
            await self._spend(charges, message)
            attempt = Attempt()
            yield attempt
            if attempt.ok:
                for key, rate in charges:
                    await self.bus.refund(key, rate)
        finally:
            self._leave(slots)

    def _enter(self, slots: Sequence[Slot], message: str) -> None:
        if any(self._in_flight.get(key, 0) >= cap for key, cap in slots):
            raise RateLimited(message, BUSY_RETRY_S)
        for key, _cap in slots:
            self._in_flight[key] = self._in_flight.get(key, 0) + 1

    def _leave(self, slots: Sequence[Slot]) -> None:
        for key, _cap in slots:
            left = self._in_flight[key] - 1
            if left:
                self._in_flight[key] = left
            else:
                del self._in_flight[key]  # the table holds only attempts in progress

    async def _spend(self, charges: Sequence[Charge], message: str) -> None:
        """Take one token from each bucket in order; when one refuses, give back the earlier ones."""
        for i, (key, rate) in enumerate(charges):
            wait = await self.bus.hit(key, rate)
            if wait:
                for earlier, earlier_rate in charges[:i]:
                    await self.bus.refund(earlier, earlier_rate)
                raise RateLimited(message, wait)
