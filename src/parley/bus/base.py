"""The small interface every bus implements (memory now, Redis for several nodes)."""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from parley.core.ratelimit import Rate


class Kind(enum.IntEnum):
    ROOM_EVENT = 1  # a committed room event; payload is its wire JSON
    EPHEMERAL = 2  # typing, read markers: delivered to the room's connections, never stored
    JOINED = 3  # user channel: the user joined `room` at `seq`
    LEFT = 4  # user channel: the user left `room` at `seq`
    USER_FRAME = 5  # user channel: a frame for all of the user's connections (invites)
    REVOKE = 6  # user channel: close connections of session `seq` (0: all of the user's sessions)
    PRESENCE = 7  # presence channel: `user` went online/offline; payload is the frame
    PEER_FRAME = 8  # user channel: a frame for the one connection of `user` that is call participant `event_type`


_HEADER = struct.Struct("!BqqqH")


@dataclass(frozen=True, slots=True)
class BusMessage:
    kind: Kind
    room: int = 0
    seq: int = 0
    user: int = 0
    event_type: str = ""
    payload: bytes = b""

    def encode(self) -> bytes:
        etype = self.event_type.encode()
        return _HEADER.pack(self.kind, self.room, self.seq, self.user, len(etype)) + etype + self.payload

    @classmethod
    def decode(cls, data: bytes) -> BusMessage:
        kind, room, seq, user, n = _HEADER.unpack_from(data)
        start = _HEADER.size
        return cls(Kind(kind), room, seq, user, data[start:start + n].decode(), data[start + n:])


def room_channel(room_id: int) -> str:
    return f"room:{room_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


PRESENCE_CHANNEL = "presence"

Handler = Callable[[str, BusMessage], None]
Resync = Callable[[list[str] | None], None]


class Bus(Protocol):
    node_id: str
    lossy: bool  # may lose messages (Redis pub/sub): the hub then also checks the database now and then

    async def start(self, handler: Handler, resync: Resync | None = None) -> None:
        """Begin delivering messages of subscribed channels to `handler` (called on the event loop).
        `resync(channels)` is called when messages on those channels (None: any) may have been lost."""

    async def close(self) -> None: ...

    async def publish(self, channel: str, message: BusMessage) -> None:
        """Deliver to this node's subscribers at once; other nodes get it soon after (batched)."""
        ...

    async def flush(self) -> None:
        """Return once everything published so far has been handed on to the other nodes."""
        ...

    def subscribe(self, channel: str) -> None: ...

    def unsubscribe(self, channel: str) -> None: ...

    async def hit(self, key: str, rate: Rate, cost: float = 1.0) -> float:
        """Take `cost` from the bucket `key`; 0.0 if allowed, else seconds until it would be.
        A cost of 0 only asks, and stores nothing. Keys are stored hashed (`bucket_id`), so their
        length costs nothing."""
        ...

    async def refund(self, key: str, rate: Rate, amount: float = 1.0) -> None:
        """Give back `amount` taken from `key` (never past the burst): an attempt pays before it
        is checked, and a successful one is refunded. A missing bucket is full: nothing is stored."""
        ...

    async def rooms_posted(self, keys: list[str], window_ms: int) -> list[set[int]]:
        """For each key (a sender's text: core.spam.text_key), the rooms it was posted to within the
        last `window_ms`, on every node: the spam filter's cross-room signal. One round trip for a
        whole send batch."""
        ...

    async def note_posted(self, entries: list[tuple[str, int]], window_ms: int) -> None:
        """Record that each (key, room) was posted now, kept `window_ms` (one round trip)."""
        ...

    async def presence_change(self, user_id: int, delta: int) -> bool:
        """Count a connection of the user in (+1) or out (-1); True if online-ness flipped."""
        ...

    async def online(self, user_ids: list[int]) -> set[int]: ...

    async def dead_node_users(self) -> list[int]:
        """Users that had connections on nodes that died without saying goodbye (claimed once)."""
        ...
