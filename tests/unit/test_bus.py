"""parley.bus: the BusMessage wire format and the single-node MemoryBus."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

import parley.bus.memory as memory_module
from parley.bus.base import PRESENCE_CHANNEL, BusMessage, Kind, room_channel, user_channel
from parley.bus.memory import ENTRY_BYTES, MemoryBus
from parley.core.ratelimit import Rate

# --- BusMessage ------------------------------------------------------------------------------


@pytest.mark.parametrize("message", [
    BusMessage(Kind.ROOM_EVENT, room=7, seq=43, user=1, event_type="message",
               payload='{"type":"message","text":"你好"}'.encode()),
    BusMessage(Kind.EPHEMERAL, room=7, user=2, event_type="typing", payload=b'{"type":"typing"}'),
    BusMessage(Kind.JOINED, room=9, seq=1, user=3),
    BusMessage(Kind.LEFT, room=9, seq=5, user=3),
    BusMessage(Kind.USER_FRAME, user=4, payload=b"\x00\x01binary\xff"),
    BusMessage(Kind.REVOKE, seq=0, user=5),
    BusMessage(Kind.PRESENCE, user=6, payload=b'{"type":"presence","user":6,"online":true}'),
    BusMessage(Kind.ROOM_EVENT, room=2**63 - 1, seq=2**62, user=-1, event_type="ü" * 100),
    BusMessage(Kind.ROOM_EVENT),
])
def test_bus_message_round_trip(message: BusMessage) -> None:
    data = message.encode()
    assert isinstance(data, bytes)
    back = BusMessage.decode(data)
    assert back == message
    assert type(back.kind) is Kind


def test_event_type_length_is_in_bytes_not_characters() -> None:
    """A multi-byte event type must not eat into the payload."""
    message = BusMessage(Kind.EPHEMERAL, event_type="打字", payload=b"PAYLOAD")
    back = BusMessage.decode(message.encode())
    assert back.event_type == "打字"
    assert back.payload == b"PAYLOAD"


def test_decode_rejects_an_unknown_kind() -> None:
    data = bytearray(BusMessage(Kind.ROOM_EVENT).encode())
    data[0] = 99
    with pytest.raises(ValueError):
        BusMessage.decode(bytes(data))


def test_channel_names() -> None:
    assert room_channel(7) == "room:7"
    assert user_channel(3) == "user:3"
    assert PRESENCE_CHANNEL == "presence"
    assert room_channel(1) != user_channel(1)


# --- MemoryBus: publish / subscribe ------------------------------------------------------------


@pytest.fixture
def received() -> list[tuple[str, BusMessage]]:
    return []


@pytest.fixture
async def bus(received: list[tuple[str, BusMessage]]) -> MemoryBus:
    b = MemoryBus()
    await b.start(lambda channel, message: received.append((channel, message)))
    return b


MSG = BusMessage(Kind.ROOM_EVENT, room=7, seq=1, event_type="message", payload=b"{}")


async def test_publish_reaches_subscribed_channels_only(bus: MemoryBus, received: list) -> None:
    bus.subscribe("room:7")
    await bus.publish("room:7", MSG)
    await bus.publish("room:8", MSG)
    assert received == [("room:7", MSG)]


async def test_unsubscribe_stops_delivery(bus: MemoryBus, received: list) -> None:
    bus.subscribe("room:7")
    bus.subscribe("room:7")  # idempotent
    await bus.publish("room:7", MSG)
    bus.unsubscribe("room:7")
    bus.unsubscribe("room:7")  # unsubscribing twice is harmless
    bus.unsubscribe("never")
    await bus.publish("room:7", MSG)
    assert received == [("room:7", MSG)]


async def test_nothing_is_delivered_before_start_or_after_close(received: list) -> None:
    b = MemoryBus()
    b.subscribe("room:7")
    await b.publish("room:7", MSG)  # not started: dropped, no error
    await b.start(lambda c, m: received.append((c, m)))
    await b.publish("room:7", MSG)
    await b.close()
    await b.publish("room:7", MSG)
    assert received == [("room:7", MSG)]


async def test_messages_arrive_in_publish_order(bus: MemoryBus, received: list) -> None:
    bus.subscribe("room:7")
    for seq in range(1, 6):
        await bus.publish("room:7", BusMessage(Kind.ROOM_EVENT, room=7, seq=seq))
    assert [m.seq for _, m in received] == [1, 2, 3, 4, 5]


def test_every_bus_has_its_own_node_id() -> None:
    assert MemoryBus().node_id != MemoryBus().node_id


# --- MemoryBus: rate buckets ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(memory_module.time, "monotonic", c)
    return c


async def test_hit_allows_the_burst_then_says_how_long_to_wait(clock: Clock) -> None:
    bus = MemoryBus()
    rate = Rate(burst=3, per_second=1.0)
    assert [await bus.hit("send:1", rate) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await bus.hit("send:1", rate) == pytest.approx(1.0)
    clock.now += 0.5
    assert await bus.hit("send:1", rate) == pytest.approx(0.5)
    clock.now += 0.5
    assert await bus.hit("send:1", rate) == 0.0
    assert await bus.hit("send:1", rate) > 0


async def test_hit_buckets_are_per_key(clock: Clock) -> None:
    bus = MemoryBus()
    rate = Rate(burst=1, per_second=0.1)
    assert await bus.hit("send:1", rate) == 0.0
    assert await bus.hit("send:1", rate) == pytest.approx(10.0)
    assert await bus.hit("send:2", rate) == 0.0


async def test_hit_cost_zero_peeks_without_spending(clock: Clock) -> None:
    bus = MemoryBus()
    rate = Rate(burst=2, per_second=1 / 60)
    for _ in range(5):
        assert await bus.hit("login:ann:1.2.3.4", rate, cost=0) == 0.0
    assert await bus.hit("login:ann:1.2.3.4", rate) == 0.0
    assert await bus.hit("login:ann:1.2.3.4", rate) == 0.0
    # empty now: the peek says so, and does not push the wait further out
    assert await bus.hit("login:ann:1.2.3.4", rate, cost=0) == pytest.approx(60.0)
    assert await bus.hit("login:ann:1.2.3.4", rate, cost=0) == pytest.approx(60.0)


async def test_a_crowd_of_other_buckets_does_not_reset_a_slow_one(clock: Clock) -> None:
    """A full table forgets the buckets that have refilled first. Whether a bucket has refilled
    depends on *its own* rate: an emptied login bucket (1 per minute) must not be forgotten because a
    fast bucket's rate (1 per second) happened to trigger the clean-up."""
    bus = MemoryBus(bucket_bytes=1000 * ENTRY_BYTES)
    login = Rate(burst=1, per_second=1 / 60)
    fast = Rate(burst=10, per_second=1.0)
    assert await bus.hit("login:ann:1.2.3.4", login) == 0.0
    assert await bus.hit("login:ann:1.2.3.4", login) == pytest.approx(60.0)
    for i in range(bus.max_buckets - 1):
        await bus.hit(f"send:{i}", fast)
    assert len(bus._buckets) == bus.max_buckets
    clock.now += 20  # the fast ones have refilled; the login bucket has 40 s to go
    await bus.hit("send:last", fast)  # one past the cap: the table is pruned
    assert len(bus._buckets) == 2
    assert await bus.hit("login:ann:1.2.3.4", login) == pytest.approx(40.0)


async def test_a_full_table_of_live_buckets_forgets_the_oldest(clock: Clock) -> None:
    bus = MemoryBus(bucket_bytes=1000 * ENTRY_BYTES)
    slow = Rate(burst=1, per_second=1 / 3600)
    for i in range(5 * bus.max_buckets):
        await bus.hit(f"login:u{i}:10.0.0.1", slow)
        assert len(bus._buckets) <= bus.max_buckets
        clock.now += 0.001
    last = 5 * bus.max_buckets - 1
    assert await bus.hit(f"login:u{last}:10.0.0.1", slow) > 0  # the newest is remembered
    assert await bus.hit("login:u0:10.0.0.1", slow) == 0.0  # the oldest was forgotten


async def test_buckets_are_keyed_by_a_fixed_size_hash(clock: Clock) -> None:
    bus = MemoryBus()
    rate = Rate(burst=2, per_second=1.0)
    assert await bus.hit("login:" + "a" * 250_000 + ":10.0.0.1", rate) == 0.0
    assert await bus.hit("login:" + "a" * 250_001 + ":10.0.0.1", rate) == 0.0
    assert [len(key) for key in bus._buckets] == [16, 16]


async def test_asking_or_refused_hits_store_nothing(clock: Clock) -> None:
    bus = MemoryBus()
    rate = Rate(burst=1, per_second=1.0)
    for i in range(100):
        assert await bus.hit(f"login:peek{i}", rate, cost=0) == 0.0
    assert await bus.hit("big", rate, cost=2) > 0  # more than a full bucket holds: refused
    assert bus._buckets == {}


async def test_refund_gives_tokens_back_up_to_the_burst(clock: Clock) -> None:
    bus = MemoryBus()
    rate = Rate(burst=2, per_second=1 / 60)
    await bus.refund("login:nobody", rate)  # a missing bucket is full: nothing is stored
    assert bus._buckets == {}
    assert [await bus.hit("login:ann", rate) for _ in range(2)] == [0.0, 0.0]
    assert await bus.hit("login:ann", rate) > 0
    await bus.refund("login:ann", rate)
    assert await bus.hit("login:ann", rate) == 0.0
    assert await bus.hit("login:ann", rate) > 0
    for _ in range(5):
        await bus.refund("login:ann", rate)
    assert bus._buckets == {}  # full again: forgotten
    assert [await bus.hit("login:ann", rate) for _ in range(3)][2] > 0  # never more than the burst


def test_the_table_stays_within_its_byte_budget() -> None:
    """ENTRY_BYTES is what the budget is divided by: measure that a table filled past its cap, with
    the prune's copy, really stays within the budget."""
    budget = 4 << 20
    bus = MemoryBus(bucket_bytes=budget)
    rate = Rate(burst=5, per_second=1 / 60)

    async def fill() -> None:
        for i in range(3 * bus.max_buckets):
            await bus.hit(f"login:user{i}:10.0.0.1", rate)

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(fill())
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(bus._buckets) <= bus.max_buckets
    assert after - before <= budget
    assert peak - before <= budget


# --- MemoryBus: presence ----------------------------------------------------------------------


async def test_presence_flips_only_between_zero_and_one() -> None:
    bus = MemoryBus()
    assert await bus.presence_change(1, +1) is True  # 0 -> 1: online
    assert await bus.presence_change(1, +1) is False  # 1 -> 2
    assert await bus.presence_change(1, +1) is False  # 2 -> 3
    assert await bus.presence_change(1, -1) is False  # 3 -> 2
    assert await bus.presence_change(1, -1) is False  # 2 -> 1
    assert await bus.presence_change(1, -1) is True  # 1 -> 0: offline
    assert await bus.presence_change(1, +1) is True  # and back


async def test_presence_never_goes_below_zero() -> None:
    bus = MemoryBus()
    assert await bus.presence_change(1, -1) is False
    assert await bus.online([1]) == set()
    assert await bus.presence_change(1, +1) is True  # a stray -1 did not leave the count at -1


async def test_online_lists_users_with_a_connection() -> None:
    bus = MemoryBus()
    await bus.presence_change(1, +1)
    await bus.presence_change(2, +1)
    await bus.presence_change(2, +1)
    await bus.presence_change(3, +1)
    await bus.presence_change(3, -1)
    assert await bus.online([1, 2, 3, 4]) == {1, 2}
    assert await bus.online([]) == set()
    assert await bus.online([3, 4]) == set()
    await bus.presence_change(2, -1)
    assert await bus.online([2]) == {2}
    await bus.presence_change(2, -1)
    assert await bus.online([1, 2]) == {1}
