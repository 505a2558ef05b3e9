"""Connect cost: server CPU per WebSocket connect-and-hello, time to hello, and a reconnect storm.

Phase 1, for users in 5 rooms and then users in 50 rooms: --connections WebSockets are opened,
--concurrency at a time (users hold several connections each: --users of them share the load), each
timed from the start of its TCP connect to its `hello`. The server's CPU (user + system, every
thread, psutil) is read before the first connect and after the last hello once the server is idle
again (two 100 ms readings without CPU), so the work a connect leaves behind (presence, the
catch-up read) counts too. Then every connection is closed.

Phase 2, the storm: --storm clients connect (and get their cursors from `hello`), all are dropped
at once, and all reconnect at once with `?resume=<their cursors>`; the figure is the time until
the last one has received `resumed`, and the server CPU that took. Loopback only (bounded: a
generator on the same machine cannot flood anything else).

    .venv/bin/python bench/connect.py                               # 1,000 connections, storm of 10,000
    .venv/bin/python bench/connect.py --connections 300 --storm 0  # quicker
    .venv/bin/python bench/connect.py --database-url postgresql://postgres@127.0.0.1/parley_bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import orjson
import psutil

import _common as c
import _wsgen as g
from parley.core.cursors import encode_cursors


class Client(g.Conn):
    def __init__(self, want: bytes | None = None) -> None:
        super().__init__(self._payload)
        self.want = want
        self.got: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def _payload(self, data: bytes) -> None:
        if self.want is not None and self.want in data[:40] and not self.got.done():
            self.got.set_result(g.now())


def server_cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        t = p.cpu_times()
        total += t.user + t.system
    return total


async def settle(procs: list[psutil.Process], quiet: float = 0.002) -> float:
    """The server's CPU once it has stopped working (two 100 ms readings each under `quiet` s)."""
    last, calm = server_cpu(procs), 0
    while calm < 2:
        await asyncio.sleep(0.1)
        now = server_cpu(procs)
        calm = calm + 1 if now - last < quiet else 0
        last = now
    return last


async def setup(base: str, users: int, rooms_each: int, tag: str) -> list[str]:
    """`users` accounts, each joined to `rooms_each` rooms (shared: every room has all the users)."""
    api = c.Api(base, concurrency=8)
    try:
        accounts = await api.register_many([f"c{tag}{i}" for i in range(users)], label=f"users in {rooms_each} rooms")
        tokens = [t for _, t in accounts]
        rooms = [await api.create_room(tokens[0], f"c{tag}-{r}") for r in range(rooms_each)]
        await asyncio.gather(*(api.join(t, r) for t in tokens[1:] for r in rooms))
        return tokens
    finally:
        await api.close()


async def open_all(urls: list[str], concurrency: int) -> tuple[list[Client], list[float]]:
    sem = asyncio.Semaphore(concurrency)
    times: list[float] = []

    async def one(url: str) -> Client:
        async with sem:
            t0 = g.now()
            conn = await g.connect(url, Client)
            times.append(g.now() - t0)
            return conn

    return await asyncio.gather(*(one(u) for u in urls)), times


async def phase(srv: c.Server, procs: list[psutil.Process], args: argparse.Namespace, rooms_each: int) -> dict:
    tag = c.run_id()
    tokens = await setup(srv.base_url, args.users, rooms_each, tag)
    urls = [f"{srv.ws_url}?token={tokens[i % len(tokens)]}" for i in range(args.connections)]
    load0 = os.getloadavg()[0]
    busy0 = c.machine_busy()
    cpu0 = await settle(procs)
    t0 = time.monotonic()
    conns, times = await open_all(urls, args.concurrency)
    wall = time.monotonic() - t0
    cpu1 = await settle(procs)
    busy1 = c.machine_busy()
    for conn in conns:
        conn.close()
    await settle(procs)
    times.sort()
    util = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
    return {"rooms": rooms_each, "connections": len(conns), "cpu_ms": (cpu1 - cpu0) * 1000 / len(conns),
            "p50_ms": c.percentile(times, 50) * 1000, "p99_ms": c.percentile(times, 99) * 1000, "wall_s": wall,
            "load": load0, "machine_util": util}


async def storm(srv: c.Server, procs: list[psutil.Process], args: argparse.Namespace) -> dict:
    tag = c.run_id()
    tokens = await setup(srv.base_url, args.users, 5, tag)
    urls = [f"{srv.ws_url}?token={tokens[i % len(tokens)]}" for i in range(args.storm)]
    print(f"  storm: opening {args.storm} connections", file=sys.stderr)
    conns, _ = await open_all(urls, args.concurrency)
    cursors = [orjson.loads(conn.hello.result())["rooms"] for conn in conns]
    for conn in conns:
        conn.close()
    await settle(procs)
    resume = [f"{urls[i]}&resume={encode_cursors({int(k): v for k, v in cursors[i].items()})}"
              for i in range(len(conns))]
    print(f"  storm: {len(resume)} clients reconnect at once with ?resume=", file=sys.stderr)
    cpu0 = server_cpu(procs)
    t0 = g.now()

    async def back(url: str) -> float:
        conn = await g.connect(url, lambda: Client(b'"resumed"'), retries=20)
        done = await asyncio.wait_for(conn.got, 120)
        conn.close()
        return done - t0

    times = sorted(await asyncio.gather(*(back(u) for u in resume)))
    cpu1 = server_cpu(procs)
    return {"clients": len(times), "all_resumed_s": times[-1], "p50_s": c.percentile(times, 50),
            "cpu_ms_each": (cpu1 - cpu0) * 1000 / len(times)}


async def main_async(args: argparse.Namespace, srv: c.Server) -> None:
    procs = [psutil.Process(p) for p in srv.cpu_pids()]
    print(f"connect-and-hello, {args.connections} connections {args.concurrency} at a time, "
          f"{args.users} users ({srv.database_url.split(':')[0]})")
    print(f"  {'rooms':>5} {'server CPU/conn':>16} {'p50 hello':>10} {'p99 hello':>10} {'wall':>7} "
          f"{'load1':>6} {'machine':>8}")
    for rooms_each in ([] if args.storm_only else args.rooms):
        r = await phase(srv, procs, args, rooms_each)
        print(f"  {r['rooms']:>5} {r['cpu_ms']:>13.2f} ms {r['p50_ms']:>7.1f} ms {r['p99_ms']:>7.1f} ms "
              f"{r['wall_s']:>5.1f} s {r['load']:>6.2f} {r['machine_util']:>7.0%}")
        c.emit_json(args.json, {"bench": "connect", **r})
    if args.storm:
        r = await storm(srv, procs, args)
        print(f"storm: {r['clients']} clients resumed at once: last `resumed` after {r['all_resumed_s']:.1f} s "
              f"(p50 {r['p50_s']:.1f} s), server CPU {r['cpu_ms_each']:.2f} ms each")
        c.emit_json(args.json, {"bench": "connect-storm", **r})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--users", type=int, default=50, help="accounts sharing the connections")
    p.add_argument("--rooms", type=int, nargs="+", default=[5, 50], help="rooms each user is in, one run each")
    p.add_argument("--storm", type=int, default=10_000, help="clients of the reconnect storm (0: none)")
    p.add_argument("--storm-only", action="store_true", help="skip the connect-and-hello runs")
    c.add_server_args(p)
    args = p.parse_args()
    if args.url:
        c.check_loopback(args.url)
    c.raise_nofile()
    srv = c.Server.from_args(args)
    try:
        c.run(main_async(args, srv))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
