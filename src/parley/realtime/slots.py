"""Caps on the WebSocket and SSE connections one user, or one address, holds open on this node.

An address counts every connection from it, including sockets still waiting for their `auth`
frame; a user counts their authenticated connections. A slot is taken before the work it guards
(the upgrade, the stream), synchronously, so that concurrent handshakes cannot overshoot.
"""

from __future__ import annotations

from collections import Counter

from parley.core.errors import TooManyConnections


class Slots:
    def __init__(self, per_user: int, per_address: int) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.users: Counter[int] = Counter()
        self.addresses: Counter[str] = Counter()

    def claim(self) -> Claim:
        return Claim(self)


class Claim:
    """The slots of one connection, given back together when it ends."""

    def __init__(self, slots: Slots) -> None:
        self._slots = slots
        self._address: str | None = None
        self._user: int | None = None

    def address(self, address: str) -> None:
        slots = self._slots
        if slots.addresses[address] >= slots.per_address:
            raise TooManyConnections(f"too many connections from this address (at most {slots.per_address} "
                                     "per server); close some first")
        slots.addresses[address] += 1
        self._address = address

    def user(self, user_id: int) -> None:
        slots = self._slots
        if slots.users[user_id] >= slots.per_user:
            raise TooManyConnections(f"too many connections for this user (at most {slots.per_user} "
                                     "per server); close some first")
        slots.users[user_id] += 1
        self._user = user_id

    def release(self) -> None:
        if self._address is not None:
            _give_back(self._slots.addresses, self._address)
            self._address = None
        if self._user is not None:
            _give_back(self._slots.users, self._user)
            self._user = None


def _give_back(counter: Counter, key: object) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]  # an idle key keeps no memory
