"""RabbitMQ for the event stream's tests: the machine's broker (127.0.0.1:5672, guest/guest; a test
fails loudly when it is missing), per-test exchange and queue names, a consumer that collects what
was routed to its queue, and a private broker node a test may stop and start again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import orjson

from tests.support.server import free_port

MACHINE_URL = "amqp://guest:guest@127.0.0.1:5672/"
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def require_broker(url: str = MACHINE_URL) -> str:
    """The broker's URL, or a failure that says what is missing (never a skip)."""
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0])
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        raise AssertionError(f"RabbitMQ is not reachable at {host}:{port} ({exc}): these tests need it "
                             "(apt-get install rabbitmq-server; it listens on 5672, guest/guest)") from None
    return url


def names() -> tuple[str, str]:
    """A fresh (exchange, queue) pair, so that tests sharing the broker never see each other."""
    tag = uuid.uuid4().hex[:10]
    return f"parley.test.{tag}", f"parley.test.{tag}.q"


@dataclass
class Received:
    room: int
    seq: int
    type: str
    routing_key: str
    message_id: str | None
    body: dict[str, Any]


@dataclass
class Consumer:
    """A durable queue bound to `room.#` of a durable topic exchange, read into `received` (in
    delivery order, duplicates kept). It reconnects by itself when the broker goes away."""

    url: str
    exchange: str
    queue: str
    received: list[Received] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> Consumer:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 30)
        return self

    async def _run(self) -> None:
        while True:
            try:
                connection = await aio_pika.connect(self.url, timeout=5)
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError):
                await asyncio.sleep(0.2)
                continue
            try:
                channel = await connection.channel()
                await channel.set_qos(prefetch_count=500)
                exchange = await channel.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
                queue = await channel.declare_queue(self.queue, durable=True)
                await queue.bind(exchange, "room.#")
                self._ready.set()
                async with queue.iterator() as messages:
                    async for message in messages:
                        h = message.headers
                        self.received.append(Received(int(h["room"]), int(h["seq"]), str(h["type"]),
                                                      message.routing_key or "", message.message_id,
                                                      orjson.loads(message.body)))
                        await message.ack()
                        self._changed.set()
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError, RuntimeError):
                await asyncio.sleep(0.2)
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()

    async def wait_until(self, done: Callable[[list[Received]], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.received):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the stream did not get there in {timeout}s; {len(self.received)} received")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 1.0))

    def first_seen(self) -> dict[int, list[int]]:
        """Each room's seqs in the order they first arrived (a consumer de-duplicating by (room, seq))."""
        seen: set[tuple[int, int]] = set()
        out: dict[int, list[int]] = {}
        for r in self.received:
            if (r.room, r.seq) not in seen:
                seen.add((r.room, r.seq))
                out.setdefault(r.room, []).append(r.seq)
        return out

    async def close(self, delete: bool = True) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if delete:
            with contextlib.suppress(Exception):
                connection = await aio_pika.connect(self.url, timeout=5)
                async with connection:
                    channel = await connection.channel()
                    await channel.queue_delete(self.queue)
                    await channel.exchange_delete(self.exchange)


class PrivateRabbit:
    """A RabbitMQ node of the test's own (its node name, AMQP and distribution ports, data and log
    folders, Erlang cookie, no plugins), so that stopping it leaves the machine's broker alone.
    Its data folder survives `stop()`: `start()` again finds its durable queues and messages."""

    def __init__(self, folder: Path) -> None:
        if not os.path.exists(RABBITMQ_SERVER):
            raise AssertionError(f"{RABBITMQ_SERVER} is missing: apt-get install rabbitmq-server")
        self.folder = folder
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"parley-test-{uuid.uuid4().hex[:8]}@localhost"
        self.proc: subprocess.Popen[bytes] | None = None
        (folder / "log").mkdir(parents=True, exist_ok=True)
        (folder / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (folder / "enabled_plugins").write_text("[].\n")
        (folder / "env.conf").write_text("")
        cookie = folder / ".erlang.cookie"
        cookie.write_text(uuid.uuid4().hex.upper())
        cookie.chmod(0o400)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self, timeout: float = 90.0) -> PrivateRabbit:
        f = self.folder
        env = {**os.environ, "HOME": str(f), "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_PORT": str(self.port),
               "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(f / "mnesia"),
               "RABBITMQ_LOG_BASE": str(f / "log"), "RABBITMQ_CONFIG_FILE": str(f / "rabbitmq.conf"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(f / "enabled_plugins"),
               "RABBITMQ_CONF_ENV_FILE": str(f / "env.conf"), "ERL_EPMD_ADDRESS": "127.0.0.1",
               "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}"}
        with open(f / "server.log", "ab") as log:
            self.proc = subprocess.Popen([RABBITMQ_SERVER], cwd=f, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"rabbitmq-server exited with {self.proc.returncode}: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the private RabbitMQ node did not listen in {timeout}s: {self.log()}")

    def stop(self) -> None:
        """SIGTERM to the node's process group (a clean broker shutdown), then wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the port is free again before a restart binds it
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                time.sleep(0.2)
            except OSError:
                return

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""
