"""Fan-out: R receivers in one room, one sender keeping W messages in flight.

A message is complete when every receiver has its `message` frame. After a warm-up, a fixed window
measures deliveries/s (messages x R), send-to-last-receiver latency and the server's CPU per delivery.
Method: /work/shared/reference/baselines.md; how to run: bench/README.md.

    .venv/bin/python bench/fanout.py -R 100
    .venv/bin/python bench/fanout.py -R 1000 --procs 2
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import socket
import sys
import time

import _common as c
import _wsgen as g

MSG_RE = re.compile(rb'"client_msg_id":\s*"f(\d+)"')
SEQ_RE = re.compile(rb'"seq":\s*(\d+)')


# ------------------------------------------------------------------------------------- receiver processes


class Tracker:
    """Counts, per message, how many of this process's receivers have it; reports the last arrival."""

    def __init__(self, need: int, report):
        self.need, self.report = need, report
        self.counts: dict[int, int] = {}
        self.order_errors = 0
        self.on_payload = self._counter()

    def _counter(self):
        search, counts, need, report, mono = (
            MSG_RE.search,
            self.counts,
            self.need,
            self.report,
            time.monotonic,
        )

        def on_payload(data: bytes) -> None:
            m = search(data)
            if m is None:
                return
            idx = int(m[1])
            n = counts.get(idx, 0) + 1
            if n >= need:
                del counts[idx]
                report(idx, mono())
            else:
                counts[idx] = n

        return on_payload

    def checked(self):
        """A handler for one connection that also checks the room's seq arrives with no gap."""
        count, last = self.on_payload, None

        def on_payload(data: bytes) -> None:
            nonlocal last
            if MSG_RE.search(data) is not None:
                seq = int(SEQ_RE.search(data)[1])
                if last is not None and seq != last + 1:
                    self.order_errors += 1
                last = seq
            count(data)

        return on_payload

    def handler(self, check: bool):
        return self.checked() if check else self.on_payload


def receiver_main(ws_url: str, tokens: list[str], sock: socket.socket, check: bool) -> None:
    c.raise_nofile()
    c.run(_receiver(ws_url, tokens, sock, check))


async def _receiver(ws_url: str, tokens: list[str], sock: socket.socket, check: bool) -> None:
    tracker: Tracker | None = None

    def on_record(kind: bytes, _num: int, _t: float) -> None:
        if kind == b"Q" and tracker is not None:  # the run is over: report what the main process can't see
            link.send(b"O", tracker.order_errors)

    link = await g.Link.open(sock, on_record)
    tracker = Tracker(len(tokens), lambda idx, t: link.send(b"C", idx, t))

    def make(_i: int) -> g.Conn:
        return g.Conn(tracker.handler(check), on_drop=lambda _conn: link.send(b"D", 1))

    try:
        conns = await g.connect_many([f"{ws_url}?token={t}" for t in tokens], make)
    except Exception as e:  # noqa: BLE001 - reported to the main process, which explains and exits
        print(f"receiver process {os.getpid()}: {e!r}", file=sys.stderr)
        link.send(b"F", 0)
        await asyncio.sleep(0.1)
        return
    link.send(b"R", len(conns))
    await link.closed
    for conn in conns:
        conn.close()


# ------------------------------------------------------------------------------------- the main process


class Fanout:
    def __init__(self, args, room: int, nproc: int):
        self.args, self.room, self.nproc = args, room, nproc
        self.filler = b"x" * 89
        self.pending: dict[int, list[float]] = {}  # idx -> [sent_at, reports_missing, last_arrival]
        self.next_idx = 0
        self.sending = False
        self.measuring = False
        self.completed = 0
        self.win_completed = 0
        self.latencies: list[float] = []
        self.last_progress = time.monotonic()
        self.ready = 0
        self.failed = 0
        self.drops = 0
        self.order_errors = 0
        self.outs = 0
        self.server_errors: list[bytes] = []
        self.all_ready = asyncio.get_running_loop().create_future()
        self.sender: g.Conn | None = None

    def on_record(self, kind: bytes, num: int, t: float) -> None:
        if kind == b"C":
            e = self.pending.get(num)
            if e is None:
                return
            e[1] -= 1
            if t > e[2]:
                e[2] = t
            if e[1] == 0:
                del self.pending[num]
                self._complete(e)
        elif kind == b"R":
            self.ready += 1
            if self.ready == self.nproc and not self.all_ready.done():
                self.all_ready.set_result(None)
        elif kind == b"F":
            self.failed += 1
            if not self.all_ready.done():
                self.all_ready.set_exception(RuntimeError("a receiver process could not connect (see above)"))
        elif kind == b"D":
            self.drops += num
        elif kind == b"O":
            self.order_errors += num
            self.outs += 1

    def _complete(self, e: list[float]) -> None:
        self.completed += 1
        self.last_progress = time.monotonic()
        if self.measuring:
            self.win_completed += 1
            self.latencies.append(e[2] - e[0])
        if self.sending:
            self.send_one()

    def send_one(self) -> None:
        idx = self.next_idx
        self.next_idx += 1
        text = b"%010d " % idx + self.filler  # 100 bytes
        frame = b'{"type":"send","room":%d,"text":"%s","client_msg_id":"f%d"}' % (self.room, text, idx)
        self.pending[idx] = [time.monotonic(), self.nproc, 0.0]
        self.sender.send(frame)

    def on_sender_payload(self, data: bytes) -> None:
        if b'"error"' in data[:40]:
            self.server_errors.append(data)


async def setup(base_url: str, R: int) -> tuple[int, str, list[str]]:
    rid = c.run_id()
    api = c.Api(base_url)
    try:
        users = await api.register_many([f"f{rid}s"] + [f"f{rid}r{i}" for i in range(R)])
        sender_token = users[0][1]
        room = await api.create_room(sender_token, f"fanout {rid}")
        t0 = time.monotonic()
        await asyncio.gather(*(api.join(tok, room) for _uid, tok in users[1:]))
        print(f"  {R} receivers joined room {room} in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    finally:
        await api.close()
    return room, sender_token, [tok for _uid, tok in users[1:]]


async def measure(args, server: c.Server, room: int, sender_token: str, socks, procs) -> dict:
    nproc = max(1, len(socks))
    bench = Fanout(args, room, nproc)
    links = [await g.Link.open(s, bench.on_record) for s in socks]
    local_tracker: Tracker | None = None
    local: list[g.Conn] = []
    t0 = time.monotonic()
    bench.sender = await g.connect(
        f"{server.ws_url}?token={sender_token}", lambda: g.Conn(bench.on_sender_payload)
    )
    if links:
        await asyncio.wait_for(bench.all_ready, 600)
    else:  # receivers in this very process
        local_tracker = Tracker(args.receivers, lambda idx, t: bench.on_record(b"C", idx, t))
        local = await g.connect_many(
            [f"{server.ws_url}?token={t}" for t in args.tokens],
            lambda _i: g.Conn(
                local_tracker.handler(args.check), on_drop=lambda _c: bench.on_record(b"D", 1, 0)
            ),
        )
    print(f"  {args.receivers + 1} WebSockets open in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    await asyncio.sleep(args.settle)

    pg = c.pids_named("postgres") if server.database_url.startswith("postgres") else []
    meter = c.CpuMeter(server.cpu_pids(), [os.getpid(), *(p.pid for p in procs)], {"postgres": pg})
    loop = asyncio.get_running_loop()
    marks: dict[str, dict] = {}
    done = loop.create_future()

    def start_window() -> None:
        bench.measuring = True
        marks["a"] = meter.snap()

    def end_window() -> None:
        marks["b"] = meter.snap()
        bench.measuring = False
        bench.sending = False
        done.set_result(None)

    bench.sending = True
    bench.last_progress = time.monotonic()
    for _ in range(args.in_flight):
        bench.send_one()
    loop.call_later(args.warmup, start_window)
    loop.call_later(args.warmup + args.window, end_window)
    stalled = None
    while not done.done():
        await asyncio.sleep(0.25)
        if bench.server_errors:
            stalled = f"the server answered with errors: {bench.server_errors[:3]}"
            break
        if bench.drops:
            stalled = f"{bench.drops} receiver(s) lost their connection (see above): no message can complete"
            break
        if time.monotonic() - bench.last_progress > args.stall:
            stalled = f"no message completed for {args.stall:.0f} s; {len(bench.pending)} in flight"
            break
    if stalled:
        print(f"ABORTED: {stalled}", file=sys.stderr)
        sys.exit(2)
    deadline = time.monotonic() + 10
    while bench.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for link in links:
        link.send(b"Q", 0)
    deadline = time.monotonic() + 3
    while bench.outs < len(links) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for link in links:
        link.transport.close()
    for conn in local:
        conn.close()
    bench.sender.close()
    if local_tracker is not None:
        bench.order_errors = local_tracker.order_errors
    d = c.CpuMeter.diff(marks["a"], marks["b"])
    deliveries = bench.win_completed * args.receivers
    lat = sorted(bench.latencies)
    return {
        "bench": "fanout",
        "R": args.receivers,
        "W": args.in_flight,
        "window_s": round(d["t"], 3),
        "messages": bench.win_completed,
        "deliveries": deliveries,
        "deliveries_per_s": deliveries / d["t"],
        "p50_ms": c.percentile(lat, 50) * 1000,
        "p99_ms": c.percentile(lat, 99) * 1000,
        "max_ms": (lat[-1] * 1000) if lat else float("nan"),
        "server_cpu_s": d["server"],
        "server_cpu_us_per_delivery": d["server"] / deliveries * 1e6 if deliveries else float("nan"),
        "postgres_cpu_us_per_delivery": d["postgres"] / deliveries * 1e6 if deliveries and pg else None,
        "server_core_pct": d["server"] / d["t"] * 100,
        "loop_core_pct": d["loop"] / d["t"] * 100,
        "gen_core_pct": d["gen"] / d["t"] * 100,
        "machine_busy_pct": d["machine_util"] * 100,
        "other_core_pct": d["other"] / d["t"] * 100,
        "gen_procs": nproc + (1 if socks else 0),
        "undrained": len(bench.pending),
        "receiver_drops": bench.drops,
        "order_errors": bench.order_errors,
        "cpu_pids": meter.server_pids,
        "server_cpu_known": bool(meter.server_pids),
    }


def report(r: dict, server: c.Server) -> None:
    db = server.database_url.split(":", 1)[0] if server.database_url else "?"
    cpu = (
        f"{r['server_cpu_us_per_delivery']:.2f} us/delivery ({r['server_core_pct']:.0f}% of a core, "
        f"event-loop thread {r['loop_core_pct']:.0f}%)"
        if r["server_cpu_known"]
        else "unknown (pass --pids)"
    )
    print(f"fanout R={r['R']} W={r['W']} window={r['window_s']:.1f}s target={server.base_url} db={db}")
    print(f"  deliveries/s        {r['deliveries_per_s']:,.0f}  ({r['messages']} messages x {r['R']})")
    print(
        f"  latency send->last  p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  max {r['max_ms']:.1f} ms"
    )
    if r["postgres_cpu_us_per_delivery"] is not None:
        cpu += f"; PostgreSQL backends {r['postgres_cpu_us_per_delivery']:.2f} us/delivery"
    print(f"  server CPU          {cpu}  pids {r['cpu_pids']}")
    print(
        f"  generator CPU       {r['gen_core_pct']:.0f}% of a core in {r['gen_procs']} processes; "
        f"machine busy {r['machine_busy_pct']:.0f}% of {os.cpu_count()} cores"
    )
    print(
        f"  other processes     {r['other_core_pct']:.0f}% of a core (should be ~0: other load skews the figures)"
    )
    warn = [f"{k}={r[k]}" for k in ("undrained", "receiver_drops", "order_errors") if r[k]]
    if warn:
        print(f"  WARNING             {' '.join(warn)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-R", "--receivers", type=int, default=100)
    p.add_argument("-W", "--in-flight", type=int, default=10)
    p.add_argument("--window", type=float, default=6.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument(
        "--procs",
        type=int,
        default=0,
        help="receiver processes besides the sender's (0: receivers share the sender's process)",
    )
    p.add_argument("--settle", type=float, default=1.0, help="pause after connecting, before the warm-up")
    p.add_argument("--stall", type=float, default=10.0, help="abort when no message completes for this long")
    p.add_argument(
        "--check",
        action="store_true",
        help="also check that each receiver sees the room's seq with no gap (costs generator CPU)",
    )
    c.add_server_args(p)
    args = p.parse_args()
    c.guard_signals()
    c.raise_nofile()
    server = c.Server.from_args(args)
    procs: list = []
    try:
        room, sender_token, tokens = c.run(setup(server.base_url, args.receivers))
        args.tokens = tokens
        socks = []
        if args.procs > 0:
            ctx = multiprocessing.get_context("fork")
            nproc = min(args.procs, args.receivers)
            for i in range(nproc):
                mine, theirs = socket.socketpair()
                part = tokens[i::nproc]
                proc = ctx.Process(
                    target=receiver_main, args=(server.ws_url, part, theirs, args.check), daemon=True
                )
                proc.start()
                theirs.close()
                procs.append(proc)
                socks.append(mine)
        result = c.run(measure(args, server, room, sender_token, socks, procs))
        for proc in procs:
            proc.join(10)
        report(result, server)
        c.emit_json(args.json, result)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        server.stop()


if __name__ == "__main__":
    main()
