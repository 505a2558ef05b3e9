"""The Redis hop alone: CPU per message on the sending node and on a receiving node.

Two processes, each with a real `RedisBus` on this machine's Redis (a namespace of its own). The
sender does what a node does per message sent: a rate-bucket hit (`send:<user>`) and a publish to
the room's channel, `--batch` messages per loop turn (the send path stores messages in batches and
publishes a batch's events together), then waits for its publishes to be on their way (with the
old bus, each publish awaited its own round trip). The receiver subscribes to the room and decodes
every message, as a node's hub would. Reported: each process's CPU (utime + stime, one event-loop
thread each) per message, and the commands Redis ran (INFO commandstats before and after; the
script starts a redis-server of its own on a free port, so nothing else counts).

    .venv/bin/python bench/bus_hop.py --messages 20000 --batch 1
    .venv/bin/python bench/bus_hop.py --messages 20000 --batch 10
    PYTHONPATH=/path/to/old/src .venv/bin/python bench/bus_hop.py ...   # an older bus, same method
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

from parley.bus.base import BusMessage, Kind
from parley.bus.redis import RedisBus
from parley.core.ratelimit import Rate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.cluster import RedisServer  # noqa: E402

ROOM = 1
RATE = Rate(burst=1_000_000, per_second=1_000_000)  # never refuses, as in the other benchmarks
PAYLOAD = b'{"type":"message","room":1,"seq":0,"ts":0,"data":{"text":"' + b"x" * 100 + b'"}}'


def commandstats(url: str) -> dict[str, int]:
    info = redis.Redis.from_url(url).info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()}


async def receive(url: str, count: int, ready: mp.Queue, done: mp.Queue) -> None:
    got = 0
    started: list[float] = []
    finished = asyncio.Event()

    def handler(channel: str, message: BusMessage) -> None:
        nonlocal got
        if not started:
            started.append(time.process_time())
        got += 1
        if got == count:
            finished.set()

    subscribed = asyncio.Event()
    bus = RedisBus(url)
    await bus.start(handler, lambda channels: subscribed.set())
    bus.subscribe(f"room:{ROOM}")
    await asyncio.wait_for(subscribed.wait(), 10)
    ready.put(True)
    await asyncio.wait_for(finished.wait(), 300)
    done.put(time.process_time() - started[0])
    await bus.close()


def receiver_main(url: str, count: int, ready: mp.Queue, done: mp.Queue) -> None:
    asyncio.run(receive(url, count, ready, done))


async def send(url: str, count: int, batch: int) -> float:
    bus = RedisBus(url)
    await bus.start(lambda channel, message: None)
    flush = getattr(bus, "flush", None)

    async def one(seq: int) -> None:
        await bus.hit("send:1", RATE)
        await bus.publish(f"room:{ROOM}", BusMessage(Kind.ROOM_EVENT, ROOM, seq, 0, "message", PAYLOAD))

    started = time.process_time()
    for first in range(1, count + 1, batch):
        await asyncio.gather(*(one(seq) for seq in range(first, min(first + batch, count + 1))))
        if flush is not None:
            await flush()
    used = time.process_time() - started
    await bus.close()
    return used


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=1, help="messages published per loop turn")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args()
    server = RedisServer(Path(tempfile.mkdtemp(prefix="parley-bench-hop-"))).start()
    try:
        result = measure(server.url, args)
    finally:
        server.kill()
    print(json.dumps(result))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")


def measure(redis_url: str, args: argparse.Namespace) -> dict[str, float]:
    url = f"{redis_url}?namespace=bench{uuid.uuid4().hex[:8]}"
    ctx = mp.get_context("spawn")
    ready, done = ctx.Queue(), ctx.Queue()
    receiver = ctx.Process(target=receiver_main, args=(url, args.messages, ready, done))
    receiver.start()
    ready.get(timeout=30)
    before = commandstats(redis_url)
    sender_cpu = asyncio.run(send(url, args.messages, args.batch))
    receiver_cpu = done.get(timeout=300)
    after = commandstats(redis_url)
    receiver.join(30)
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in ("publish", "evalsha")}
    return {
        "messages": args.messages, "batch": args.batch,
        "sender_us_per_msg": round(sender_cpu / args.messages * 1e6, 1),
        "receiver_us_per_msg": round(receiver_cpu / args.messages * 1e6, 1),
        "publish_calls": calls["publish"], "evalsha_calls": calls["evalsha"],
        "loadavg": os.getloadavg()[0],
    }


if __name__ == "__main__":
    main()
