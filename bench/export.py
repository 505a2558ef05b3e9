"""The event stream to RabbitMQ (issue 12): how fast a backlog drains, and the lag at a given ingest rate.

1. A server whose PARLEY_EXPORT_URL points at a closed port (the broker "down") takes --backlog
   messages over REST in --rooms rooms; it is then restarted with the real broker, and the time
   from its first published event to the last one a consumer received gives the drain rate.
2. With the stream live, messages are sent open-loop at --rate per second for --seconds; the lag of
   each is the time the consumer received it minus the event's `ts` (when it was stored).

    .venv/bin/python bench/export.py                      # ~1 min, SQLite, the machine's RabbitMQ
    .venv/bin/python bench/export.py --rate 1000 --backlog 50000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import uuid

import aio_pika
import orjson

import _common as c


class Consumer:
    def __init__(self, url: str, exchange: str) -> None:
        self.url, self.exchange = url, exchange
        self.seen: set[tuple[int, int]] = set()
        self.messages = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.lags_ms: dict[str, float] = {}  # client text -> lag, for the rate phase

    async def start(self) -> None:
        self.connection = await aio_pika.connect(self.url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=2000)
        exchange = await channel.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(f"{self.exchange}.q", exclusive=True)
        await queue.bind(exchange, "room.#")
        await queue.consume(self.on_message, no_ack=True)

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        now = time.time()
        self.last_at = time.monotonic()
        if not self.first_at:
            self.first_at = self.last_at
        h = message.headers
        self.seen.add((int(h["room"]), int(h["seq"])))
        self.messages += 1
        if h["type"] == "message":
            body = orjson.loads(message.body)
            if body["text"].startswith("live "):
                self.lags_ms[body["text"]] = now * 1000 - body["ts"]

    async def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(self.seen)} of {count} events arrived in {timeout:.0f} s")
            await asyncio.sleep(0.02)


async def total_events(api: c.Api, token: str, rooms: list[int]) -> int:
    total = 0
    for rid in rooms:
        total += (await api.call("GET", f"/rooms/{rid}", token))["last_seq"]
    return total


async def main_async(args: argparse.Namespace) -> None:
    exchange = f"parley.bench.{uuid.uuid4().hex[:8]}"
    # The spam filter off: short repeated texts from new accounts would be held, and never stored as events.
    env = {"PARLEY_SPAM": "off", "PARLEY_EXPORT_EXCHANGE": exchange, "PARLEY_EXPORT_URL": f"amqp://guest:guest@127.0.0.1:{c.free_port()}/"}
    server = c.Server.from_args(args, env)
    consumer = Consumer(args.amqp_url, exchange)
    try:
        api = c.Api(server.base_url, concurrency=32)
        rid = c.run_id()
        (_, ann), (_, bob) = await api.register_many([f"ann{rid}", f"bob{rid}"])
        rooms = [await api.create_room(ann, f"export-{rid}-{i}") for i in range(args.rooms)]
        for room in rooms:
            await api.join(bob, room)
        t0 = time.monotonic()
        await asyncio.gather(*(api.call("POST", f"/rooms/{rooms[k % len(rooms)]}/messages", (ann, bob)[k % 2],
                                        {"text": f"backlog {k}"}) for k in range(args.backlog)))
        print(f"  stored {args.backlog} messages in {time.monotonic() - t0:.1f} s with the broker away", file=sys.stderr)
        backlog = await total_events(api, ann, rooms)
        await api.close()
        await consumer.start()
        # the same database, now with the broker there: the backlog drains
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(30)
        server.pids.clear()
        server.start(args, {**env, "PARLEY_EXPORT_URL": args.amqp_url})
        cpu0 = c.cpu_seconds(server.cpu_pids())
        await consumer.wait_for(backlog, timeout=600)
        drain_s = consumer.last_at - consumer.first_at
        cpu = c.cpu_seconds(server.cpu_pids()) - cpu0
        print(f"drain: {backlog} events in {drain_s:.2f} s = {backlog / drain_s:,.0f} events/s "
              f"(server CPU {cpu:.1f} s, {cpu / backlog * 1e6:.0f} us per event, duplicates "
              f"{consumer.messages - backlog})")

        # live: open-loop sends at args.rate
        api = c.Api(server.base_url, concurrency=64)
        n = int(args.rate * args.seconds)
        start = time.monotonic()
        sends = []
        for k in range(n):
            delay = start + k / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sends.append(asyncio.create_task(api.call("POST", f"/rooms/{rooms[k % len(rooms)]}/messages",
                                                      (ann, bob)[k % 2], {"text": f"live {k}"})))
        await asyncio.gather(*sends)
        achieved = n / (time.monotonic() - start)
        stored = await total_events(api, ann, rooms)
        await consumer.wait_for(stored, timeout=120)
        await api.close()
        lags = sorted(consumer.lags_ms.values())
        print(f"live: {stored - backlog} of {n} stored, at {args.rate}/s asked ({achieved:.0f}/s achieved), lag from commit to the "
              f"consumer: p50 {c.percentile(lags, 50):.1f} ms, p95 {c.percentile(lags, 95):.1f} ms, "
              f"p99 {c.percentile(lags, 99):.1f} ms, max {lags[-1]:.1f} ms")
    finally:
        if hasattr(consumer, "connection"):
            await consumer.connection.close()
        server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_server_args(p)
    p.add_argument("--amqp-url", default=os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    p.add_argument("--rooms", type=int, default=50)
    p.add_argument("--backlog", type=int, default=20000, help="messages stored while the broker is away")
    p.add_argument("--rate", type=float, default=300, help="messages per second in the live phase")
    p.add_argument("--seconds", type=float, default=20)
    args = p.parse_args()
    c.guard_signals()
    c.run(main_async(args))


if __name__ == "__main__":
    main()
