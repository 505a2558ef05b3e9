"""Presence coalescing (realtime/presence.py), in process: the real Hub, Connection and Emitter on the
memory bus, with the batch's timer and clock in the test's hands (no sleeps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from parley.bus.base import PRESENCE_CHANNEL, BusMessage, Kind
from parley.core import metrics
from parley.core.models import EventType, User
from parley.realtime.presence import PresenceBatch
from tests.unit.test_delivery import ANN, BOB, ROOM, Client, World

CAROL = User(3, "carol", "Carol", False, False, 0)


class Timers:
    """The batch's scheduler and clock: timers run only when the test says the time has come."""

    def __init__(self) -> None:
        self.now = 100.0
        self.due: list[tuple[float, Callable[[], None]]] = []

    def schedule(self, delay: float, callback: Callable[[], None]) -> Any:
        self.due.append((self.now + delay, callback))
        return None

    def advance(self, seconds: float) -> None:
        self.now += seconds
        ready = [t for t in self.due if t[0] <= self.now]
        self.due = [t for t in self.due if t[0] > self.now]
        for _, callback in ready:
            callback()

    def clock(self) -> float:
        return self.now


@pytest.fixture
async def world() -> World:
    """test_delivery's world (a room of Ann and Bob), listening on the presence channel as Hub.start does."""
    w = World()
    await w.bus.start(w.hub.on_bus, w.hub.resync)
    w.bus.subscribe(PRESENCE_CHANNEL)
    w.commit(EventType.ROOM_CREATED, {"name": "lobby", "kind": "room", "visibility": "public"})
    w.commit(EventType.MEMBER_JOINED, {"user": ANN.public(), "role": "owner"})
    w.commit(EventType.MEMBER_JOINED, {"user": BOB.public(), "role": "member"})
    return w


def _batched(world: World, timers: Timers) -> None:
    world.hub.presence_batch = PresenceBatch(world.hub.rooms, schedule=timers.schedule, clock=timers.clock)


def _presence(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f["type"] == "presence"]


async def test_changes_within_a_second_reach_each_connection_in_one_frame(world: World) -> None:
    timers = Timers()
    _batched(world, timers)
    bob = await world.connect(BOB)
    users = [User(100 + i, f"u{i}", f"U{i}", False, False, 0) for i in range(50)]
    for user in users:
        await world.emitter.presence(user.id, True, [ROOM])
    await world.emitter.presence(users[0].id, False, [ROOM])  # the latest state of a user wins
    # The first change after a quiet second goes out at the end of this turn; the others wait.
    assert [delay for delay, _ in timers.due] == [timers.now]
    timers.advance(0)
    first = _presence(await bob.frames())
    assert first == [{"type": "presence", "changes": [{"user": users[0].id, "online": False},
                                                       *({"user": u.id, "online": True} for u in users[1:])]}]
    await world.emitter.presence(CAROL.id, True, [ROOM])
    await world.emitter.presence(users[1].id, False, [ROOM])
    timers.advance(0.5)
    assert len(_presence(await bob.frames())) == 1  # nothing more within the second
    timers.advance(0.5)
    frames = _presence(await bob.frames())
    assert frames[1:] == [{"type": "presence", "changes": [{"user": CAROL.id, "online": True},
                                                           {"user": users[1].id, "online": False}]}]


async def test_a_connection_is_not_told_its_own_presence_and_rooms_elsewhere_are_kept_apart(world: World) -> None:
    timers = Timers()
    _batched(world, timers)
    ann, bob = await world.connect(ANN), await world.connect(BOB)
    await world.emitter.presence(BOB.id, True, [ROOM])
    await world.emitter.presence(CAROL.id, True, [ROOM + 1])  # a room no local connection is in
    timers.advance(0)
    assert _presence(await ann.frames()) == [{"type": "presence", "changes": [{"user": BOB.id, "online": True}]}]
    assert _presence(await bob.frames()) == []  # its own change only: no frame at all
    await world.emitter.presence(ANN.id, False, [ROOM])
    await world.emitter.presence(CAROL.id, True, [ROOM])
    timers.advance(1)
    assert _presence(await bob.frames()) == [{"type": "presence", "changes": [
        {"user": ANN.id, "online": False}, {"user": CAROL.id, "online": True}]}]
    assert _presence(await ann.frames())[1:] == [{"type": "presence", "changes": [{"user": CAROL.id, "online": True}]}]


async def test_frames_are_counted_per_connection_not_per_change(world: World) -> None:
    timers = Timers()
    _batched(world, timers)
    world.commit(EventType.MEMBER_JOINED, {"user": CAROL.public(), "role": "member"})
    clients: list[Client] = [await world.connect(u) for u in (ANN, BOB, CAROL)]
    before = metrics.COUNTS.presence_frames, metrics.COUNTS.presence_changes
    for i in range(200):
        await world.emitter.presence(1000 + i, True, [ROOM])
    timers.advance(0)
    for client in clients:
        (frame,) = _presence(await client.frames())
        assert len(frame["changes"]) == 200
    assert (metrics.COUNTS.presence_frames - before[0], metrics.COUNTS.presence_changes - before[1]) == (3, 200)


async def test_an_older_nodes_single_change_is_still_understood(world: World) -> None:
    timers = Timers()
    _batched(world, timers)
    bob = await world.connect(BOB)
    old = {"rooms": [ROOM], "frame": {"type": "presence", "user": ANN.id, "online": True}}
    await world.bus.publish(PRESENCE_CHANNEL, BusMessage(Kind.PRESENCE, 0, 0, ANN.id, "", orjson.dumps(old)))
    timers.advance(0)
    assert _presence(await bob.frames()) == [{"type": "presence", "changes": [{"user": ANN.id, "online": True}]}]


async def test_each_user_is_left_out_of_its_own_frames_when_everyone_changed(world: World) -> None:
    """After a reconnect storm nearly every user is among the changes: the frame without a user is
    built once per user, and each of that user's connections (and only they) get it."""
    timers = Timers()
    _batched(world, timers)
    world.commit(EventType.MEMBER_JOINED, {"user": CAROL.public(), "role": "member"})
    ann1, ann2, bob = await world.connect(ANN), await world.connect(ANN), await world.connect(BOB)
    for user in (ANN, BOB, CAROL):
        await world.emitter.presence(user.id, True, [ROOM])
    timers.advance(0)
    for client in (ann1, ann2):
        assert _presence(await client.frames()) == [{"type": "presence", "changes": [
            {"user": BOB.id, "online": True}, {"user": CAROL.id, "online": True}]}]
    assert _presence(await bob.frames()) == [{"type": "presence", "changes": [
        {"user": ANN.id, "online": True}, {"user": CAROL.id, "online": True}]}]
