"""The export adapters' contract (issue 12): every implementation of `export.base.Exporter` — RabbitMQ
through aio-pika against the machine's broker, and the in-memory one the cursor tests use — passes the
same suite. What the destination received is read back the way a consumer would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from parley.core.export import Record
from parley.export.amqp import AmqpExporter
from parley.export.base import Exporter, ExportUnavailable
from parley.export.memory import MemoryExporter
from tests.support.rabbit import MACHINE_URL, Consumer, names, require_broker
from tests.support.server import free_port


class MemoryHarness:
    def __init__(self) -> None:
        self.exporter = MemoryExporter()

    async def received(self, count: int) -> list[tuple[int, int, str, Any]]:
        return [(r.room, r.seq, r.type, orjson.loads(r.body)) for r in self.exporter.confirmed[:count]]

    def unreachable(self) -> Exporter:
        dead = MemoryExporter()
        dead.up = False
        return dead

    async def close(self) -> None:
        pass


class AmqpHarness:
    def __init__(self, consumer: Consumer, exchange: str) -> None:
        self.consumer = consumer
        self.exporter = AmqpExporter(consumer.url, exchange)

    async def received(self, count: int) -> list[tuple[int, int, str, Any]]:
        await self.consumer.wait_until(lambda got: len(got) >= count, timeout=30)
        for r in self.consumer.received:
            assert r.routing_key == f"room.{r.room}.{r.type}" and r.message_id == f"{r.room}:{r.seq}"
        return [(r.room, r.seq, r.type, r.body) for r in self.consumer.received[:count]]

    def unreachable(self) -> Exporter:
        return AmqpExporter(f"amqp://guest:guest@127.0.0.1:{free_port()}/", "nowhere", timeout=2)

    async def close(self) -> None:
        await self.exporter.close()
        await self.consumer.close()


@pytest.fixture(params=["memory", "amqp"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        h: Any = MemoryHarness()
    else:
        exchange, queue = names()
        h = AmqpHarness(await Consumer(require_broker(MACHINE_URL), exchange, queue).start(), exchange)
    try:
        yield h
    finally:
        await h.close()


def records(rooms: int, per_room: int) -> list[Record]:
    """Interleaved rooms, each in seq order, with bodies as the clients get them."""
    out = []
    for seq in range(1, per_room + 1):
        for room in range(1, rooms + 1):
            body = {"type": "message", "room": room, "seq": seq, "text": f"{room}/{seq} 你好"}
            out.append(Record(room, seq, "message", 1_700_000_000_000 + seq, orjson.dumps(body)))
    return out


async def test_records_arrive_in_order_with_their_address_and_body(harness: Any) -> None:
    exporter: Exporter = harness.exporter
    await exporter.start()
    sent = records(5, 60)
    await exporter.publish(sent[:100])
    await exporter.publish([])
    await exporter.publish(sent[100:])
    got = await harness.received(len(sent))
    assert got == [(r.room, r.seq, r.type, orjson.loads(r.body)) for r in sent]


async def test_publishing_before_start_or_after_close_raises(harness: Any) -> None:
    exporter: Exporter = harness.exporter
    with pytest.raises(ExportUnavailable):
        await exporter.publish(records(1, 1))
    await exporter.start()
    await exporter.close()
    with pytest.raises(ExportUnavailable):
        await exporter.publish(records(1, 1))
    await exporter.start()  # again, as the exporter's loop does after a failure
    await exporter.publish(records(2, 2))
    assert [(room, seq) for room, seq, _, _ in await harness.received(4)] == [(1, 1), (2, 1), (1, 2), (2, 2)]


async def test_an_unreachable_destination_raises_on_start_and_publish(harness: Any) -> None:
    dead = harness.unreachable()
    with pytest.raises(ExportUnavailable):
        await dead.start()
    with pytest.raises(ExportUnavailable):
        await dead.publish(records(1, 1))
    await dead.close()
