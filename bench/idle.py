"""Idle connections: open N authenticated WebSockets to one server process and measure its memory.

Reports the server's resident set (VmRSS in /proc/PID/status) before, with all N open, and after
they closed, the RSS per connection, and the server's CPU while they sit idle (its liveness pings
included). The clients live in a few processes and connect from several loopback source addresses
(127.0.0.1, 127.0.0.2, ...) when one address has too few ephemeral ports. How to run: bench/README.md.

    .venv/bin/python bench/idle.py                       # 10,000 connections over 10 users
    .venv/bin/python bench/idle.py --connections 50000   # needs a hard nofile limit above 50,000
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import socket
import sys

import _common as c
import _wsgen as g

PORTS_PER_SOURCE = 25_000  # of the ~28,000 in Linux's default ip_local_port_range (32768-60999)


def client_main(urls: list[str], sock: socket.socket, sources: list[str]) -> None:
    c.raise_nofile()
    c.run(_clients(urls, sock, sources))


async def _clients(urls: list[str], sock: socket.socket, sources: list[str]) -> None:
    link = await g.Link.open(sock)
    try:
        conns = await g.connect_many(urls, lambda _i: g.Conn(None, on_drop=lambda _c: link.send(b"D", 1)),
                                     sources=sources)
    except Exception as e:  # noqa: BLE001 - the main process explains and exits
        print(f"client process {os.getpid()}: {e!r}", file=sys.stderr)
        link.send(b"F", 0)
        await asyncio.sleep(0.1)
        return
    link.send(b"R", len(conns))
    await link.closed
    for conn in conns:
        conn.close()
    await asyncio.sleep(0.5)


class Tally:
    def __init__(self, nproc: int):
        self.nproc, self.ready, self.opened, self.failed, self.drops = nproc, 0, 0, 0, 0
        self.all_ready = asyncio.get_running_loop().create_future()

    def on_record(self, kind: bytes, num: int, _t: float) -> None:
        if kind == b"R":
            self.ready += 1
            self.opened += num
        elif kind == b"F":
            self.failed += 1
        elif kind == b"D":
            self.drops += num
        if self.ready + self.failed == self.nproc and not self.all_ready.done():
            self.all_ready.set_result(None)


async def setup(base_url: str, users: int) -> list[str]:
    rid = c.run_id()
    api = c.Api(base_url)
    try:
        toks = [tok for _uid, tok in await api.register_many([f"d{rid}u{i}" for i in range(users)])]
        room = await api.create_room(toks[0], f"idle {rid}")
        await asyncio.gather(*(api.join(t, room) for t in toks[1:]))
    finally:
        await api.close()
    return toks


async def warm_up(ws_url: str, tokens: list[str]) -> None:
    """One connection per user, opened and closed, so one-time costs stay out of the per-connection figure."""
    conns = await g.connect_many([f"{ws_url}?token={t}" for t in tokens], lambda _i: g.Conn(None))
    for conn in conns:
        conn.close()
    await asyncio.sleep(0.5)


async def measure(args, server: c.Server, socks, pid: int, gen_pids: list[int]) -> dict:
    tally = Tally(len(socks))
    links = [await g.Link.open(s, tally.on_record) for s in socks]
    meter = c.CpuMeter([pid], [os.getpid(), *gen_pids])
    a = meter.snap()
    await asyncio.wait_for(tally.all_ready, args.timeout)
    d = c.CpuMeter.diff(a, meter.snap())
    open_s, open_cpu = d["t"], d["server"]
    if tally.failed:
        sys.exit("ABORTED: a client process could not open its connections (see above)")
    print(f"  {tally.opened} connections open in {open_s:.1f} s", file=sys.stderr)
    await asyncio.sleep(args.settle)
    rss_open = c.rss_kb(pid)
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    idle_meter = c.CpuMeter([pid], [os.getpid(), *gen_pids])
    i0 = idle_meter.snap()
    await asyncio.sleep(args.hold)
    idle = c.CpuMeter.diff(i0, idle_meter.snap())
    rss_held = c.rss_kb(pid)
    for link in links:
        link.transport.close()
    await asyncio.sleep(args.settle + 1)
    return {
        "opened": tally.opened,
        "open_s": open_s,
        "open_cpu_us_per_conn": open_cpu / max(1, tally.opened) * 1e6,
        "open_server_core_pct": open_cpu / open_s * 100,
        "open_loop_core_pct": d["loop"] / open_s * 100,
        "open_gen_core_pct": d["gen"] / open_s * 100,
        "open_other_core_pct": d["other"] / open_s * 100,
        "rss_open_kb": rss_open,
        "rss_held_kb": rss_held,
        "rss_closed_kb": c.rss_kb(pid),
        "server_fds": fds,
        "idle_cpu_pct": idle["server"] / idle["t"] * 100,
        "idle_loop_pct": idle["loop"] / idle["t"] * 100,
        "idle_other_pct": idle["other"] / idle["t"] * 100,
        "drops": tally.drops,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-N", "--connections", type=int, default=10_000)
    p.add_argument("--users", type=int, default=10, help="the connections are spread over this many users")
    p.add_argument("--procs", type=int, default=4, help="client processes")
    p.add_argument("--settle", type=float, default=2.0, help="pause before reading RSS")
    p.add_argument("--hold", type=float, default=30.0,
                   help="the idle window: how long the connections stay open once measured (server CPU over it)")
    p.add_argument("--sources", type=int, default=0,
                   help="loopback source addresses to connect from, 127.0.0.1 up (default: one per 25,000 "
                        "connections, what the default ephemeral port range allows)")
    p.add_argument("--timeout", type=float, default=300.0, help="give up opening connections after this long")
    c.add_server_args(p)
    args = p.parse_args()
    c.guard_signals()
    limit = c.raise_nofile()  # before the server starts: it inherits the limit
    if limit < args.connections + 1000:
        sys.exit(
            f"open-file limit {limit} is too low for {args.connections} connections (the server holds one "
            f"descriptor each): raise the hard limit (ulimit -Hn as root, LimitNOFILE= under systemd)"
        )
    nsources = args.sources or math.ceil(args.connections / PORTS_PER_SOURCE)
    sources = [f"127.0.0.{i + 1}" for i in range(nsources)]
    server = c.Server.from_args(args)
    procs = []
    try:
        if not server.pids:
            sys.exit("--url needs --pids with the one server process")
        pid = server.pids[0]
        tokens = c.run(setup(server.base_url, args.users))
        c.run(warm_up(server.ws_url, tokens))
        rss_before = c.rss_kb(pid)
        urls = [f"{server.ws_url}?token={tokens[i % len(tokens)]}" for i in range(args.connections)]
        ctx = multiprocessing.get_context("fork")
        socks = []
        nproc = max(1, min(args.procs, args.connections))
        for i in range(nproc):
            mine, theirs = socket.socketpair()
            proc = ctx.Process(target=client_main, args=(urls[i::nproc], theirs, sources), daemon=True)
            proc.start()
            theirs.close()
            procs.append(proc)
            socks.append(mine)
        r = c.run(measure(args, server, socks, pid, [proc.pid for proc in procs]))
        for proc in procs:
            proc.join(10)
        r.update(
            bench="idle",
            connections=args.connections,
            users=args.users,
            rss_before_kb=rss_before,
            sources=nsources,
            loadavg=os.getloadavg(),
            kb_per_conn=(r["rss_open_kb"] - rss_before) / max(1, r["opened"]),
        )
        print(f"idle N={r['opened']} over {args.users} users from {nsources} source address(es), server pid {pid}, "
              f"target={server.base_url}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(
            f"  server RSS          before {rss_before / 1024:.1f} MiB, with all open "
            f"{r['rss_open_kb'] / 1024:.1f} MiB (after {args.hold:.0f} s more: {r['rss_held_kb'] / 1024:.1f} MiB), "
            f"after closing {r['rss_closed_kb'] / 1024:.1f} MiB"
        )
        print(
            f"  per connection      {r['kb_per_conn']:.1f} KiB RSS (user-space only; kernel socket buffers "
            f"are not in RSS)"
        )
        print(
            f"  opening             {r['open_s']:.1f} s, {r['open_cpu_us_per_conn']:.0f} us server CPU per "
            f"connection; server fds with all open: {r['server_fds']}"
        )
        print(
            f"  while opening       server {r['open_server_core_pct']:.0f}% of a core (event-loop thread "
            f"{r['open_loop_core_pct']:.0f}%), clients {r['open_gen_core_pct']:.0f}%, other processes "
            f"{r['open_other_core_pct']:.0f}% (should be ~0)"
        )
        print(
            f"  idle server CPU     {r['idle_cpu_pct']:.2f}% of a core (event-loop thread {r['idle_loop_pct']:.2f}%) "
            f"over {args.hold:.0f} s while {r['opened']} connections sat idle; other processes "
            f"{r['idle_other_pct']:.0f}%"
        )
        if r["drops"]:
            print(f"  WARNING             {r['drops']} connections dropped by the server while idle")
        c.emit_json(args.json, r)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        server.stop()


if __name__ == "__main__":
    main()
