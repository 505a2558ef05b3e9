"""The event stream to RabbitMQ (issue 12), end to end: real `parley serve` processes with
PARLEY_EXPORT_URL, real brokers, a real consumer on a durable queue. Every test has its own
exchange and queue. Per room, the consumer (de-duplicating by (room, seq)) sees every committed
event, in seq order, whatever was killed or restarted while the stream ran.

The broker-restart test starts a RabbitMQ node of its own (its node name, ports, data folder and
cookie; tests/support/rabbit.py) and stops and starts it: a real broker restart, with its durable
queue and persistent messages on disk, which a TCP proxy cut would not exercise; the machine's
shared broker, which other tests use, is never touched."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import new_user
from tests.support.client import Api
from tests.support.cluster import RedisServer
from tests.support.rabbit import MACHINE_URL, Consumer, PrivateRabbit, names, require_broker
from tests.support.server import FAST_LIMITS, ServerProcess


def export_env(url: str, exchange: str) -> dict[str, str]:
    return {**FAST_LIMITS, "PARLEY_EXPORT_URL": url, "PARLEY_EXPORT_EXCHANGE": exchange}


@contextlib.asynccontextmanager
async def consumer_of(url: str) -> AsyncIterator[Consumer]:
    exchange, queue = names()
    consumer = await Consumer(url, exchange, queue).start()  # bound before anything is published
    try:
        yield consumer
    finally:
        await consumer.close()


async def setup_rooms(http: aiohttp.ClientSession, base: str, rooms: int) -> tuple[list[Api], list[int]]:
    ann = await new_user(http, base, "ann")
    bob = await new_user(http, base, "bob")
    ids = [(await ann.create_room(f"export-{i}"))["id"] for i in range(rooms)]
    for rid in ids:
        await bob.join(rid)
    return [ann, bob], ids


async def last_seqs(api: Api, rooms: list[int]) -> dict[int, int]:
    return {rid: (await api.call("GET", f"/api/v1/rooms/{rid}"))["last_seq"] for rid in rooms}


def complete(expected: dict[int, int]) -> Any:
    return lambda got: all(any(r.room == room and r.seq == last for r in got) for room, last in expected.items())


def assert_every_event_in_order(consumer: Consumer, expected: dict[int, int]) -> None:
    seen = consumer.first_seen()
    assert {room: seen.get(room) for room in expected} == {room: list(range(1, last + 1))
                                                           for room, last in expected.items()}
    for r in consumer.received:  # each message is the event as the clients get it, correctly addressed
        assert (r.body["room"], r.body["seq"], r.body["type"]) == (r.room, r.seq, r.type)
        assert r.routing_key == f"room.{r.room}.{r.type}" and r.message_id == f"{r.room}:{r.seq}"


async def keep_sending(users: list[Api], rooms: list[int], acked: list[int], stop: asyncio.Event) -> None:
    """Send to every room in turn, 8 at a time, until `stop`; a send that fails (the server or the
    broker is away) is simply not counted: the log decides what was committed."""
    n = 0

    async def one(k: int) -> None:
        try:
            await users[k % 2].send(rooms[k % len(rooms)], f"message {k} 你好")
            acked.append(k)
        except (TimeoutError, aiohttp.ClientError, OSError):
            await asyncio.sleep(0.05)

    while not stop.is_set():
        await asyncio.gather(*(one(n + i) for i in range(8)))
        n += 8


async def test_every_event_of_many_rooms_arrives_in_seq_order(tmp_path: Path) -> None:
    url = require_broker(MACHINE_URL)
    async with consumer_of(url) as consumer:
        server = ServerProcess(f"sqlite:///{tmp_path / 'parley.db'}", tmp_path,
                               env=export_env(url, consumer.exchange)).start()
        try:
            async with aiohttp.ClientSession() as http:
                users, rooms = await setup_rooms(http, server.url, 25)
                sem = asyncio.Semaphore(16)

                async def send(k: int) -> None:
                    async with sem:
                        await users[k % 2].send(rooms[(k * 7) % len(rooms)], f"m{k}")

                await asyncio.gather(*(send(k) for k in range(1000)))
                expected = await last_seqs(users[0], rooms)
            await consumer.wait_until(complete(expected))
            assert_every_event_in_order(consumer, expected)
            # nothing failed, so nothing went out twice: the stream itself is in seq order per room
            per_room: dict[int, list[int]] = {}
            for r in consumer.received:
                per_room.setdefault(r.room, []).append(r.seq)
            assert per_room == {room: list(range(1, last + 1)) for room, last in expected.items()}
            assert sum(expected.values()) == len(consumer.received) >= 1000 + 25 * 3
        finally:
            server.stop()
    assert not server.tracebacks()


async def test_a_server_killed_mid_stream_loses_nothing_after_its_restart(tmp_path: Path) -> None:
    url = require_broker(MACHINE_URL)
    async with consumer_of(url) as consumer:
        server = ServerProcess(f"sqlite:///{tmp_path / 'parley.db'}", tmp_path,
                               env=export_env(url, consumer.exchange)).start()
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                users, rooms = await setup_rooms(http, server.url, 10)
                acked: list[int] = []
                stop = asyncio.Event()
                sender = asyncio.create_task(keep_sending(users, rooms, acked, stop))
                while len(acked) < 400:
                    await asyncio.sleep(0.01)
                server.kill()  # SIGKILL while messages are being stored and exported
                at_kill = len(acked)
                stop.set()
                await sender
                server.start()
                for k in range(200):
                    await users[k % 2].send(rooms[k % len(rooms)], f"after the restart {k}")
                expected = await last_seqs(users[0], rooms)
            assert sum(expected.values()) >= at_kill + 200
            await consumer.wait_until(complete(expected))
            assert_every_event_in_order(consumer, expected)
        finally:
            server.stop()
    assert not server.tracebacks()


@pytest.mark.timeout(300)  # a RabbitMQ node starts twice (5-30 s each on a busy machine)
async def test_a_broker_restart_mid_stream_loses_nothing(tmp_path: Path) -> None:
    broker = PrivateRabbit(tmp_path / "rabbit").start()
    try:
        async with consumer_of(broker.url) as consumer:
            server = ServerProcess(f"sqlite:///{tmp_path / 'parley.db'}", tmp_path,
                                   env=export_env(broker.url, consumer.exchange)).start()
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                    users, rooms = await setup_rooms(http, server.url, 10)
                    acked: list[int] = []
                    stop = asyncio.Event()
                    sender = asyncio.create_task(keep_sending(users, rooms, acked, stop))
                    while len(acked) < 300:
                        await asyncio.sleep(0.01)
                    await asyncio.to_thread(broker.stop)  # the broker goes down mid-stream
                    during = len(acked)
                    while len(acked) < during + 300:  # Parley keeps taking messages meanwhile
                        await asyncio.sleep(0.01)
                    await asyncio.to_thread(broker.start)  # the same node and data come back
                    after = len(acked)
                    while len(acked) < after + 300:
                        await asyncio.sleep(0.01)
                    stop.set()
                    await sender
                    expected = await last_seqs(users[0], rooms)
                assert sum(expected.values()) >= 900
                await consumer.wait_until(complete(expected), timeout=90)
                assert_every_event_in_order(consumer, expected)
            finally:
                server.stop()
        assert not server.tracebacks()
        assert "export:" in server.log()  # the outage was logged in a line (not a traceback)
    finally:
        broker.remove()


@pytest.mark.timeout(240)
async def test_one_node_exports_and_another_takes_over_when_it_is_killed(tmp_path: Path, pg_url: str) -> None:
    """Two nodes on PostgreSQL and Redis: only the lease holder publishes; SIGKILL it mid-stream and
    the other takes over from the durable cursor, within the lease (2 s here)."""
    url = require_broker(MACHINE_URL)
    redis = RedisServer(tmp_path).start()
    try:
        async with consumer_of(url) as consumer:
            env = {**export_env(url, consumer.exchange), "PARLEY_BROKER_URL": redis.url, "PARLEY_EXPORT_LEASE_S": "2",
                   "PARLEY_MEDIA_URL": f"file://{tmp_path}/media", "PARLEY_MEDIA_SHARED": "1",
                   "PARLEY_LOG_LEVEL": "INFO"}
            first = ServerProcess(pg_url, tmp_path, env=env).start()
            await until_logged(first, "holds the export lease")
            second = ServerProcess(pg_url, tmp_path, env=env, migrate=False).start()
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                    users, rooms = await setup_rooms(http, second.url, 8)
                    acked: list[int] = []
                    stop = asyncio.Event()
                    sender = asyncio.create_task(keep_sending(users, rooms, acked, stop))  # through the second node
                    while len(acked) < 300:
                        await asyncio.sleep(0.01)
                    assert "holds the export lease" not in second.log()
                    first.kill()
                    killed_at = len(acked)
                    await until_logged(second, "holds the export lease", timeout=30)
                    while len(acked) < killed_at + 200:
                        await asyncio.sleep(0.01)
                    stop.set()
                    await sender
                    expected = await last_seqs(users[0], rooms)
                await consumer.wait_until(complete(expected))
                assert_every_event_in_order(consumer, expected)
            finally:
                first.stop()
                second.stop()
            assert not first.tracebacks() and not second.tracebacks()
    finally:
        redis.kill()


async def until_logged(server: ServerProcess, text: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while text not in server.log():
        assert asyncio.get_running_loop().time() < deadline, f"{text!r} never logged: {server.log()}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("url", ["kafka://127.0.0.1:9092", "amqp://"])
def test_a_destination_it_cannot_use_is_refused_at_start(tmp_path: Path, url: str) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path / 'parley.db'}", tmp_path, env={"PARLEY_EXPORT_URL": url})
    with pytest.raises(RuntimeError, match="PARLEY_EXPORT_URL"):
        server.start()
