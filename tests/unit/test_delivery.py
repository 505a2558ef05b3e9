"""The delivery rules of realtime/, in process: the real Hub, Connection and Emitter on the memory bus.

The seams replaced are the socket (a transport collecting the bytes written to it) and the database
(a room log kept in lists, answering what the hub asks of it). Bus messages are published, withheld,
repeated or reordered at will; nothing waits on a clock: a test awaits the connection's replays.
"""

from __future__ import annotations

import asyncio
import struct
from collections import defaultdict
from typing import Any

import orjson
import pytest

from parley.bus.base import room_channel
from parley.bus.memory import MemoryBus
from parley.core.errors import Unavailable
from parley.core.models import Event, EventType, User
from parley.realtime.connection import REPLAY_PAGE, Connection
from parley.realtime.hub import Hub
from parley.realtime.slots import Slots
from parley.services.emitter import Emitter

ANN = User(1, "ann", "Ann", False, False, 0)
BOB = User(2, "bob", "Bob", False, False, 0)
ROOM = 7


class Transport:
    """The socket: keeps every byte written, never pushes back."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closing = False

    def write(self, data: bytes) -> None:
        assert not self.closing
        self.data += data

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.closing = True


class Gate:
    """Holds the callers of one log method until opened; `reached` is set once one waits."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    async def pass_(self) -> None:
        self.reached.set()
        await self.opened.wait()


class RoomLog:
    """What the hub reads from the database (Messages.replay, Presence), kept in lists."""

    def __init__(self) -> None:
        self.events: defaultdict[int, list[Event]] = defaultdict(list)
        self.joined: dict[tuple[int, int], int] = {}  # (user, room) -> seq of their member_joined
        self.gates: dict[str, Gate] = {}
        self.down = False  # the database is away: reads raise Unavailable

    def append(self, room: int, etype: EventType, data: dict[str, Any] | None = None, sender: User = ANN) -> Event:
        seq = len(self.events[room]) + 1
        event = Event(room * 10_000 + seq, room, seq, etype, seq, sender.public(), data or {},
                      f"c{seq}" if etype is EventType.MESSAGE else None)
        self.events[room].append(event)
        if etype is EventType.MEMBER_JOINED:
            self.joined[(event.data["user"]["id"], room)] = seq
        elif etype is EventType.MEMBER_LEFT:
            del self.joined[(event.data["user"]["id"], room)]
        return event

    def hold(self, method: str) -> Gate:
        self.gates[method] = gate = Gate()
        return gate

    async def _pass(self, method: str) -> None:
        gate = self.gates.get(method)
        if gate is not None:
            await gate.pass_()

    async def replay(self, room: int, after: int, limit: int) -> list[Event]:
        await self._pass("replay")
        if self.down:
            raise Unavailable("the database is unavailable; retry shortly")
        return self.events[room][after:after + limit]

    async def last_seqs(self, rooms: list[int]) -> dict[int, int]:
        found = {room: len(self.events[room]) for room in rooms}
        await self._pass("last_seqs")  # as a query whose answer is on its way back
        return found

    async def cursors(self, user: User) -> dict[int, tuple[int, int]]:
        found = {room: (len(self.events[room]), seq) for (uid, room), seq in self.joined.items() if uid == user.id}
        await self._pass("cursors")  # as a query whose answer is on its way back
        return found

    async def connected(self, user: User, rooms: list[int]) -> None:
        pass

    async def disconnected(self, user: User, rooms: list[int]) -> None:
        pass


class World:
    def __init__(self) -> None:
        self.bus = MemoryBus()
        self.log = RoomLog()
        self.hub = Hub(self.bus, self.log, self.log, Slots(10, 10))  # type: ignore[arg-type]
        self.emitter = Emitter(self.bus)

    def commit(self, etype: EventType = EventType.MESSAGE, data: dict[str, Any] | None = None,
               sender: User = ANN) -> Event:
        """Stored, not (yet) published: a bus message that is late or lost."""
        return self.log.append(ROOM, etype, data or ({"text": "hi"} if etype is EventType.MESSAGE else None), sender)

    async def publish(self, *events: Event) -> None:
        await self.emitter.room_events(events)

    async def post(self, etype: EventType = EventType.MESSAGE, user: User = ANN) -> Event:
        data = {"user": user.public()} if etype in (EventType.MEMBER_JOINED, EventType.MEMBER_LEFT) else None
        if etype is EventType.MEMBER_JOINED:
            data = {"user": user.public(), "role": "member"}
        event = self.commit(etype, data, user)
        await self.publish(event)
        return event

    async def connect(self, user: User, resume_from: dict[int, int] | None = None) -> Client:
        client = Client(self.hub, user)
        await self.hub.attach(client.conn, resume_from)
        return client


class Client:
    """One connection and the frames that reached its socket."""

    def __init__(self, hub: Hub, user: User) -> None:
        self.transport = Transport()

        async def close(code: int, reason: str) -> None:
            self.transport.closing = True

        self.conn = Connection(hub, user, 1, self.transport, close, 1 << 20)

    async def frames(self) -> list[dict[str, Any]]:
        await self.conn.idle()
        self.conn.flush()
        return _decode(bytes(self.transport.data))

    async def seqs(self, room: int = ROOM) -> list[int]:
        return [f["seq"] for f in await self.frames() if f.get("room") == room and "seq" in f]

    async def resume(self, cursors: dict[int, int]) -> dict[int, int]:
        return await self.conn.resume(cursors)


def _decode(data: bytes) -> list[dict[str, Any]]:
    """Server frames: final, unmasked text frames, back to back."""
    out, i = [], 0
    while i < len(data):
        assert data[i] == 0x81 and data[i + 1] < 0x80
        n, i = data[i + 1], i + 2
        if n == 126:
            (n,), i = struct.unpack_from("!H", data, i), i + 2
        elif n == 127:
            (n,), i = struct.unpack_from("!Q", data, i), i + 8
        out.append(orjson.loads(data[i:i + n]))
        i += n
    return out


@pytest.fixture
async def world() -> World:
    w = World()
    await w.bus.start(w.hub.on_bus, w.hub.resync)
    w.commit(EventType.ROOM_CREATED, {"name": "lobby", "kind": "room", "visibility": "public"})
    w.commit(EventType.MEMBER_JOINED, {"user": ANN.public(), "role": "owner"})
    w.commit(EventType.MEMBER_JOINED, {"user": BOB.public(), "role": "member"})
    return w


async def test_events_in_order_are_sent_live_once(world: World) -> None:
    bob = await world.connect(BOB)
    hello = (await bob.frames())[0]
    assert hello["type"] == "hello" and hello["rooms"] == {str(ROOM): 3}
    first = await world.post()
    await world.publish(first)  # a bus message delivered twice
    await world.post()
    assert await bob.seqs() == [4, 5]
    frames = await bob.frames()
    assert frames[1] == orjson.loads(orjson.dumps(first.wire()))


async def test_a_gap_is_filled_from_the_log_and_a_late_message_is_dropped(world: World) -> None:
    bob = await world.connect(BOB)
    lost = [world.commit(), world.commit()]
    await world.post()  # seq 6 announces that 4 and 5 were missed
    assert await bob.seqs() == [4, 5, 6]
    await world.publish(*lost)  # late: already sent from the log
    await world.post()
    assert await bob.seqs() == [4, 5, 6, 7]


async def test_reordered_bus_messages_are_sent_in_order_once(world: World) -> None:
    bob = await world.connect(BOB)
    events = [world.commit() for _ in range(4)]
    await world.publish(events[3], events[1], events[0], events[2], events[3])
    assert await bob.seqs() == [4, 5, 6, 7]


async def test_live_events_during_a_fill_follow_it_without_gap_or_duplicate(world: World) -> None:
    bob = await world.connect(BOB)
    gate = world.log.hold("replay")
    world.commit()
    await world.post()  # a gap: the fill starts, and waits for the log
    await gate.reached.wait()
    for _ in range(3):
        await world.post()  # noted while the room fills, not sent out of order
    gate.opened.set()
    await world.post()
    assert await bob.seqs() == [4, 5, 6, 7, 8, 9]
    assert not bob.conn.rooms[ROOM].filling


async def test_a_fill_the_database_interrupts_starts_again_at_the_next_event(world: World) -> None:
    bob = await world.connect(BOB)
    world.log.down = True
    world.commit()
    await world.post()  # a gap: the fill fails on the log
    assert await bob.seqs() == []
    assert not bob.conn.rooms[ROOM].filling  # paused, not stuck: the next catch-up starts it again
    world.log.down = False
    await world.post()
    assert await bob.seqs() == [4, 5, 6]


async def test_a_leave_during_a_fill_ends_the_room_at_the_leave(world: World) -> None:
    bob = await world.connect(BOB)
    gate = world.log.hold("replay")
    world.commit()
    await world.post()
    await gate.reached.wait()
    left = await world.post(EventType.MEMBER_LEFT, BOB)
    after = await world.post()
    gate.opened.set()
    assert await bob.seqs() == [4, 5, left.seq]
    assert ROOM not in bob.conn.rooms and ROOM not in world.hub.rooms
    await world.publish(after)  # late, and for a room the connection has left
    await world.post()
    assert await bob.seqs() == [4, 5, left.seq]
    assert room_channel(ROOM) not in world.bus._channels  # the node stopped listening to the room


@pytest.mark.parametrize("age", [0, 1, 2, REPLAY_PAGE - 1, REPLAY_PAGE, REPLAY_PAGE + 1, 2 * REPLAY_PAGE + 3])
async def test_resume_of_any_age_sends_every_missed_event_once_in_order(world: World, age: int) -> None:
    for _ in range(2 * REPLAY_PAGE + 3):
        world.commit()
    last = len(world.log.events[ROOM])
    bob = await world.connect(BOB)
    cursor = last - age
    assert await bob.resume({ROOM: cursor}) == {ROOM: last}
    assert await bob.seqs() == list(range(cursor + 1, last + 1))
    # Asked again, or from the start, or from beyond the end: nothing is sent twice.
    assert await bob.resume({ROOM: 0}) == {ROOM: last}
    assert await bob.resume({ROOM: last + 100}) == {ROOM: last}
    assert await bob.seqs() == list(range(cursor + 1, last + 1)) + list(range(1, cursor + 1))


async def test_a_room_left_out_of_resume_is_replayed_from_the_join(world: World) -> None:
    bob = await world.connect(BOB)
    await world.post()
    assert await bob.resume({}) == {ROOM: 4}
    assert await bob.seqs() == [4, 3]


async def test_resume_frame_never_resends_events_sent_live_since_hello(world: World) -> None:
    for _ in range(5):
        world.commit()  # missed while away, from cursor 3
    bob = await world.connect(BOB)
    for _ in range(12):
        await world.post()  # sent live between hello and the resume frame
    gate = world.log.hold("replay")
    resume = asyncio.ensure_future(bob.resume({ROOM: 3}))
    await gate.reached.wait()
    for _ in range(2):
        await world.post()  # live while the backfill runs: after it, in order
    gate.opened.set()
    assert await resume == {ROOM: 22}
    await world.post()
    seqs = await bob.seqs()
    assert seqs == list(range(9, 21)) + list(range(4, 9)) + [21, 22, 23]
    assert (bob.conn.rooms[ROOM].floor, bob.conn.rooms[ROOM].cursor) == (3, 23)


async def test_an_event_published_while_the_cursors_were_read_is_sent(world: World) -> None:
    """Attaching reads the cursors, then registers the connection: what was published in between
    reached nobody here, and the node's heads (no second query) say it must be read."""
    gate = world.log.hold("cursors")
    connecting = asyncio.ensure_future(world.connect(BOB))
    await gate.reached.wait()
    await world.post()  # committed and published after the cursors were read
    gate.opened.set()
    bob = await connecting
    assert (await bob.frames())[0]["rooms"] == {str(ROOM): 3}
    assert await bob.seqs() == [4]
    await world.post()
    assert await bob.seqs() == [4, 5]


async def test_a_room_followed_already_needs_no_second_read(world: World) -> None:
    """Ann's connection keeps the node following the room: Bob's attach learns what its read missed
    from the heads the node saw published, without reading the room's end again."""
    ann = await world.connect(ANN)
    cursors, ends = world.log.hold("cursors"), world.log.hold("last_seqs")
    connecting = asyncio.ensure_future(world.connect(BOB))
    await cursors.reached.wait()
    await world.post()
    cursors.opened.set()
    bob = await asyncio.wait_for(connecting, 10)  # it would wait for `ends` forever had it asked
    assert not ends.reached.is_set()
    assert await bob.seqs() == [4] and await ann.seqs() == [4]


async def test_resume_does_not_rewind_over_events_sent_while_it_read_the_room_ends(world: World) -> None:
    bob = await world.connect(BOB)
    gate = world.log.hold("last_seqs")
    resume = asyncio.ensure_future(bob.resume({ROOM: 3}))
    await gate.reached.wait()
    await world.post()  # sent live after the room's end was read
    gate.opened.set()
    assert await resume == {ROOM: 4}
    assert await bob.seqs() == [4]


@pytest.mark.parametrize("how", ["frame", "url"])
async def test_resume_across_an_old_leave_keeps_the_room(world: World, how: str) -> None:
    world.commit(EventType.MEMBER_LEFT, {"user": BOB.public()}, BOB)  # 4: bob left
    world.commit(EventType.MEMBER_JOINED, {"user": BOB.public(), "role": "member"}, BOB)  # 5: and came back
    world.commit()
    if how == "url":
        bob = await world.connect(BOB, resume_from={ROOM: 0})
    else:
        bob = await world.connect(BOB)
    assert await bob.resume({ROOM: 0}) == {ROOM: 6}
    await world.post()
    assert sorted(await bob.seqs()) == list(range(1, 8))
    assert ROOM in bob.conn.rooms
