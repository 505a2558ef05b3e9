"""Publishing to the bus. Each room event is encoded once here; every recipient gets these bytes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from parley.bus.base import PRESENCE_CHANNEL, Bus, BusMessage, Kind, room_channel, user_channel
from parley.core import wire
from parley.core.models import ENDS_MEMBERSHIP, Event, EventType

_MEMBERSHIP = {EventType.MEMBER_JOINED, EventType.MEMBER_INVITED, *ENDS_MEMBERSHIP}


class Emitter:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        # Called after each call of room_events with the rooms it published to (the event export's
        # wake-up, services/export.py); they must not block.
        self.watchers: list[Callable[[set[int]], None]] = []
        # Awaited after room_events with the (room, user) pairs whose membership an event ended (a
        # leave, a kick, a ban): a call drops them at once (services/calls.py).
        self.gone: list[Callable[[list[tuple[int, int]]], Awaitable[None]]] = []

    async def room_events(self, events: Iterable[Event]) -> None:
        rooms: set[int] = set()
        ended: list[tuple[int, int]] = []
        for event in events:
            rooms.add(event.room_id)
            subject = event.data.get("user", {}).get("id", 0) if event.type in _MEMBERSHIP else 0
            await self.bus.publish(room_channel(event.room_id), BusMessage(
                Kind.ROOM_EVENT, event.room_id, event.seq, subject, event.type.value, wire.encode_event(event)))
            if event.type is EventType.MEMBER_JOINED:
                await self.bus.publish(user_channel(subject), BusMessage(Kind.JOINED, event.room_id, event.seq, subject))
            elif event.type in ENDS_MEMBERSHIP:  # a leave, a kick, a ban: every node stops the room for them
                await self.bus.publish(user_channel(subject), BusMessage(Kind.LEFT, event.room_id, event.seq, subject))
                ended.append((event.room_id, subject))
        if rooms:
            for watcher in self.watchers:
                watcher(rooms)
        if ended:
            for hook in self.gone:
                await hook(ended)

    async def ephemeral(self, room_id: int, user_id: int, frame: wire.ServerFrame) -> None:
        await self.bus.publish(room_channel(room_id), BusMessage(
            Kind.EPHEMERAL, room_id, 0, user_id, wire.tag_of(frame), wire.encode(frame)))

    async def to_user(self, user_id: int, frame: wire.ServerFrame) -> None:
        await self.bus.publish(user_channel(user_id), BusMessage(
            Kind.USER_FRAME, 0, 0, user_id, wire.tag_of(frame), wire.encode(frame)))

    async def to_users(self, user_ids: Iterable[int], frame: wire.ServerFrame) -> None:
        """The same frame to several users, encoded once."""
        tag, payload = wire.tag_of(frame), wire.encode(frame)
        for user_id in user_ids:
            await self.bus.publish(user_channel(user_id), BusMessage(Kind.USER_FRAME, 0, 0, user_id, tag, payload))

    async def to_peer(self, user_id: int, peer: str, frame: wire.ServerFrame) -> None:
        """A call signal (issue 13), to the one connection of the user that is participant `peer`."""
        await self.bus.publish(user_channel(user_id), BusMessage(Kind.PEER_FRAME, 0, 0, user_id, peer, wire.encode(frame)))

    async def revoke(self, user_id: int, session_id: int = 0) -> None:
        """Close the user's connections of one session, or of all sessions (0)."""
        await self.bus.publish(user_channel(user_id), BusMessage(Kind.REVOKE, 0, session_id, user_id))

    async def presence(self, user_id: int, online: bool, rooms: list[int]) -> None:
        # One change on the bus; each node coalesces the changes into PresenceFrame batches for its
        # connections (realtime/presence.py).
        body = {"rooms": rooms, "user": user_id, "online": online}
        await self.bus.publish(PRESENCE_CHANNEL, BusMessage(Kind.PRESENCE, 0, 0, user_id, "", wire.encode(body)))
