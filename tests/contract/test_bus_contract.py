"""The bus contract: the same cases on the in-memory bus and on the real Redis of this machine."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from parley.bus.base import BusMessage, Kind
from parley.bus.memory import MemoryBus
from parley.bus.redis import RedisBus
from parley.core.ratelimit import Rate

REDIS = "redis://127.0.0.1:6379/0"


async def _redis_or_fail() -> None:
    client = aioredis.Redis.from_url(REDIS, socket_connect_timeout=3)
    try:
        await client.ping()
    except OSError as exc:
        pytest.fail(f"Redis is required at {REDIS} and is not reachable ({exc}); start it with 'redis-server "
                    "--daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no'", pytrace=False)
    finally:
        await client.aclose()


BARRIER_CHANNEL = "room:99"


class Received:
    def __init__(self) -> None:
        self.items: list[tuple[str, BusMessage]] = []
        self.resyncs: list[list[str] | None] = []
        self.changed = asyncio.Event()

    def __call__(self, channel: str, message: BusMessage) -> None:
        self.items.append((channel, message))
        self.changed.set()

    def resync(self, channels: list[str] | None) -> None:
        self.resyncs.append(channels)

    async def wait(self, count: int, timeout: float = 5.0) -> list[tuple[str, BusMessage]]:
        async def until() -> None:
            while len(self.items) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), timeout)
        return self.items


@pytest.fixture(params=["memory", "redis"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    namespace = f"t{uuid.uuid4().hex[:8]}"
    buses: list[object] = []
    if request.param == "redis":
        await _redis_or_fail()

    async def make(received: Received) -> MemoryBus | RedisBus:
        bus = MemoryBus() if request.param == "memory" else RedisBus(f"{REDIS}?namespace={namespace}")
        await bus.start(received, received.resync)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()


async def _subscribed(bus: object, channel: str, received: Received) -> None:
    bus.subscribe(channel)
    if isinstance(bus, RedisBus):  # wait for the subscription to take effect
        await asyncio.wait_for(_until(lambda: [channel] in received.resyncs), 5)


async def _until(predicate: object) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


async def _barrier(bus: object, peer: object, received: Received) -> None:
    """A marker published after the messages under test, on a channel `bus` listens to, the way a
    stray echo would travel (through Redis, on the same subscriber connection: in order). Once it
    has arrived, an echo would have too; no sleep has to guess how long that takes."""
    await bus.flush()  # what it published is on its way to Redis before the marker is
    count = len(received.items)
    marker = BusMessage(Kind.ROOM_EVENT, room=99, seq=count, payload=b'"marker"')
    await (peer if isinstance(bus, RedisBus) else bus).publish(BARRIER_CHANNEL, marker)  # no echo to itself
    await received.wait(count + 1)
    assert received.items.pop() == (BARRIER_CHANNEL, marker)


async def test_publish_reaches_subscribers_once_and_only_them(make_bus):
    received = Received()
    bus, peer = await make_bus(received), await make_bus(Received())
    await _subscribed(bus, "room:1", received)
    await _subscribed(bus, BARRIER_CHANNEL, received)
    message = BusMessage(Kind.ROOM_EVENT, room=1, seq=7, user=3, event_type="message", payload=b'{"x":1}')
    await bus.publish("room:1", message)
    await bus.publish("room:2", BusMessage(Kind.ROOM_EVENT, room=2, seq=1))
    assert await received.wait(1) == [("room:1", message)]
    await _barrier(bus, peer, received)  # an echo from Redis would have come before it
    assert len(received.items) == 1
    bus.unsubscribe("room:1")
    await bus.publish("room:1", message)
    await _barrier(bus, peer, received)
    assert len(received.items) == 1


async def test_rate_buckets(make_bus):
    bus = await make_bus(Received())
    rate = Rate(burst=3, per_second=0.5)
    key = f"k{uuid.uuid4().hex}"
    waits = [await bus.hit(key, rate) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 1.5 < waits[3] <= 2.0 and waits[4] > 0
    assert await bus.hit(f"other{key}", rate) == 0.0
    # A zero-cost hit only asks: it refuses while empty and never spends.
    fresh = f"peek{key}"
    assert [await bus.hit(fresh, Rate(1, 0.01), cost=0) for _ in range(3)] == [0.0, 0.0, 0.0]


async def _stored_buckets(bus: object) -> list[bytes]:
    """The names of the stored buckets, however this bus stores them."""
    if isinstance(bus, RedisBus):
        return await bus.redis.keys(bus.prefix + "rl:*")
    return list(bus._buckets)


async def test_refund_gives_a_token_back(make_bus):
    bus = await make_bus(Received())
    rate = Rate(burst=3, per_second=0.01)
    key = f"k{uuid.uuid4().hex}"
    await bus.refund(key, rate)  # missing: full already, nothing stored
    assert await _stored_buckets(bus) == []
    assert [await bus.hit(key, rate) for _ in range(4)][3] > 0
    await bus.refund(key, rate)
    assert await bus.hit(key, rate) == 0.0
    assert await bus.hit(key, rate) > 0
    for _ in range(5):
        await bus.refund(key, rate)
    assert await _stored_buckets(bus) == []  # full again: forgotten
    assert [await bus.hit(key, rate) for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # never past the burst
    assert await bus.hit(key, rate) > 0


async def test_asking_stores_nothing_and_keys_have_a_fixed_size(make_bus):
    bus = await make_bus(Received())
    rate = Rate(burst=2, per_second=0.01)
    for i in range(20):
        assert await bus.hit(f"peek{i}", rate, cost=0) == 0.0
    assert await _stored_buckets(bus) == []
    await bus.hit("login:" + "x" * 250_000 + ":10.0.0.1", rate)
    await bus.hit("login:ann:10.0.0.1", rate)
    names = await _stored_buckets(bus)
    assert len(names) == 2 and len({len(name) for name in names}) == 1 and len(names[0]) < 100


async def test_presence_counts_connections(make_bus):
    bus = await make_bus(Received())
    user = int(uuid.uuid4().int % 10**9)
    assert await bus.online([user]) == set()
    assert await bus.presence_change(user, +1) is True
    assert await bus.presence_change(user, +1) is False
    assert await bus.online([user, user + 1]) == {user}
    assert await bus.presence_change(user, -1) is False
    assert await bus.presence_change(user, -1) is True
    assert await bus.online([user]) == set()


async def test_redis_nodes_share_messages_buckets_and_presence():
    await _redis_or_fail()
    namespace = f"t{uuid.uuid4().hex[:8]}"
    got_a, got_b = Received(), Received()
    a, b = RedisBus(f"{REDIS}?namespace={namespace}"), RedisBus(f"{REDIS}?namespace={namespace}")
    other = RedisBus(f"{REDIS}?namespace=x{namespace}")
    other_peer = RedisBus(f"{REDIS}?namespace=x{namespace}")  # only to publish a barrier over there
    got_other = Received()
    for bus, got in ((a, got_a), (b, got_b), (other, got_other), (other_peer, Received())):
        await bus.start(got, got.resync)
    try:
        for bus, got in ((a, got_a), (b, got_b), (other, got_other)):
            await _subscribed(bus, "room:5", got)
            await _subscribed(bus, BARRIER_CHANNEL, got)
        message = BusMessage(Kind.ROOM_EVENT, room=5, seq=1, payload=b"{}")
        await a.publish("room:5", message)
        assert await got_b.wait(1) == [("room:5", message)]
        # Markers published after the message reach each subscriber after anything it would get.
        await _barrier(a, b, got_a)
        await _barrier(other, other_peer, got_other)
        assert got_a.items == [("room:5", message)] and got_other.items == []  # no echo; namespaces apart
        rate, key = Rate(burst=2, per_second=0.01), f"shared{namespace}"
        assert [await a.hit(key, rate), await b.hit(key, rate)] == [0.0, 0.0]
        assert await a.hit(key, rate) > 0 and await b.hit(key, rate) > 0
        assert await a.presence_change(42, +1) is True
        assert await b.presence_change(42, +1) is False  # online already, through node a
        assert await b.online([42]) == {42}
        assert await a.presence_change(42, -1) is False
        assert await b.presence_change(42, -1) is True
    finally:
        for bus in (a, b, other, other_peer):
            await bus.close()


async def test_redis_reaps_users_of_a_node_that_died():
    await _redis_or_fail()
    namespace = f"t{uuid.uuid4().hex[:8]}"
    a, b = RedisBus(f"{REDIS}?namespace={namespace}"), RedisBus(f"{REDIS}?namespace={namespace}")
    for bus in (a, b):
        await bus.start(Received())
    try:
        assert await a.presence_change(77, +1) is True
        assert await b.online([77]) == {77}
        # Node a stops beating without a goodbye: its liveness key lapses, its heartbeat is old.
        for task in a._tasks:
            task.cancel()
        await a.redis.delete(a.prefix + "node:" + a.node_id)
        await a.redis.zadd(a.prefix + "nodes", {a.node_id: 0})
        assert await b.online([77]) == set()
        assert await b.dead_node_users() == [77]
        assert await b.dead_node_users() == []  # claimed once
        assert await b.presence_change(77, +1) is True  # back online through node b
    finally:
        for bus in (a, b):
            await bus.close()


async def test_rooms_posted_are_shared_by_the_nodes_within_the_window(make_bus: object) -> None:
    """The spam filter's cross-room signal: what one node records, another reads (Redis); a memory
    bus is one node's own."""
    first = await make_bus(Received())
    second = await make_bus(Received()) if isinstance(first, RedisBus) else first
    assert await first.rooms_posted(["7:abc", "7:def"], 60_000) == [set(), set()]
    await first.note_posted([("7:abc", 1), ("7:abc", 2)], 60_000)
    await second.note_posted([("7:abc", 3), ("7:def", 1)], 60_000)
    assert await second.rooms_posted(["7:abc", "7:def", "8:abc"], 60_000) == [{1, 2, 3}, {1}, set()]
    assert await first.rooms_posted(["7:abc"], 60_000) == [{1, 2, 3}]
    await first.note_posted([("9:old", 5)], 1)  # a one-millisecond window: gone almost at once
    await asyncio.sleep(0.01)
    assert await first.rooms_posted(["9:old"], 1) == [set()]
    assert await first.rooms_posted([], 60_000) == []
