"""Capacity: open-loop Poisson load at a fraction of the measured capacity, room sizes 3 / 100 / 1,000.

For each room size R: first the capacity, the closed-loop saturation throughput (one sender keeping
W messages in flight, as fanout.py); then open-loop runs whose sends are scheduled by exponential
inter-arrival times at 10 % ... 90 % of it, whatever the completions. Each run measures the p50 / p99
send-to-delivery latency (from the scheduled send to the last of the R receivers), the server's CPU
and, from /metrics, the batches the server committed. The service-time constants (per message, per
delivery, per batch) are fitted to all runs (`parley.core.capacity`), the model's prediction is
printed beside each measurement and drawn into docs/capacity.png; --write stores the constants in
src/parley/core/data/capacity.json, which `parley capacity` reads. How to run: bench/README.md.

    .venv/bin/python bench/capacity.py --quick            # ~3 min (4 on a loaded machine)
    .venv/bin/python bench/capacity.py --write            # ~7.5 min
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
from pathlib import Path

import _common as c
import _wsgen as g

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from parley.core import capacity as model  # noqa: E402

MSG_RE = re.compile(rb'"client_msg_id":\s*"k(\d+)"')
CHAT = [b"morning all, I pushed the fix for the login redirect, please pull before testing the new build today",
        b"can we move the retro to thursday afternoon? half the team is at the customer workshop on wednesday",
        b"the slides from the lecture are in the shared drive, the exercises for chapter seven are at the end"]
IN_FLIGHT = {3: 64, 100: 10, 1000: 10}  # closed loop: enough in flight to saturate the server
METRICS = ("parley_send_batch_size_count", "parley_send_batch_size_sum", "parley_send_batch_commit_seconds_sum")
BUCKET = 'parley_send_batch_commit_seconds_bucket{le="'
DATA_JSON = ROOT / "src" / "parley" / "core" / "data" / "capacity.json"


class Load:
    """The sender and the receivers' counting: a message is complete when all R receivers have it."""

    def __init__(self, room: int, need: int):
        self.room, self.need = room, need
        self.pending: dict[int, list[float]] = {}  # idx -> [scheduled send, receivers missing, last arrival]
        self.next_idx = 0
        self.window = (float("inf"), float("inf"))
        self.latencies: list[float] = []
        self.completed_in_window = 0
        self.closed_loop = False
        self.errors: list[bytes] = []
        self.sender: g.Conn | None = None

    def on_payload(self, data: bytes) -> None:
        m = MSG_RE.search(data)
        if m is None:
            return
        e = self.pending.get(int(m[1]))
        if e is None:
            return
        e[1] -= 1
        if e[1] == 0:
            del self.pending[int(m[1])]
            now = time.monotonic()
            a, b = self.window
            if a <= e[0] < b:
                self.latencies.append(now - e[0])
            if a <= now < b:
                self.completed_in_window += 1
            if self.closed_loop:
                self.send(now)

    def on_sender_payload(self, data: bytes) -> None:
        if b'"error"' in data[:40]:
            self.errors.append(data)

    def send(self, scheduled: float) -> None:
        idx = self.next_idx
        self.next_idx += 1
        text = (b"#%d " % idx + CHAT[idx % len(CHAT)])[:100]
        self.pending[idx] = [scheduled, self.need, 0.0]
        self.sender.send(b'{"type":"send","room":%d,"text":"%s","client_msg_id":"k%d"}' % (self.room, text, idx))


def run_delay(pid: int) -> float:
    """Seconds the server's main thread (its event loop) has waited for a CPU while runnable
    (/proc/PID/task/PID/schedstat, 2nd field): what other processes on the machine cost it."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


async def scrape(session, base_url: str) -> dict[str, float]:
    async with session.get(base_url + "/metrics") as r:
        text = await r.text()
    out = dict.fromkeys(METRICS, 0.0)
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in out:
            out[name] = float(value)
        elif name.startswith(BUCKET):  # parley_send_batch_commit_seconds_bucket{le="0.005"} 12.0
            out["le " + name[len(BUCKET):].split('"')[0]] = float(value)
    return out


async def point(load: Load, server: c.Server, session, meter: c.CpuMeter, *, rate: float | None,
                in_flight: int, warmup: float, window: float) -> dict:
    """One run: closed loop (rate None, `in_flight` messages outstanding) or open-loop Poisson at `rate`."""
    load.latencies, load.completed_in_window, load.errors = [], 0, []
    start = time.monotonic()
    a, b = start + warmup, start + warmup + window
    load.window = (a, b)
    marks: dict[str, dict] = {}

    async def snap(key: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        cpu, wait = meter.snap(), run_delay(server.pids[0])
        marks[key] = {"cpu": cpu, "wait": wait, **await scrape(session, server.base_url)}

    snaps = [asyncio.create_task(snap("a", a)), asyncio.create_task(snap("b", b))]
    if rate is None:
        load.closed_loop = True
        for _ in range(in_flight):
            load.send(time.monotonic())
        await asyncio.gather(*snaps)
        load.closed_loop = False
    else:
        rng = random.Random(int(rate * 1000) ^ load.need)
        due = start
        while due < b:
            now = time.monotonic()
            while due <= now:  # open loop: every send whose time has come, however many are in flight
                load.send(due)
                due += rng.expovariate(rate)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        await asyncio.gather(*snaps)
    deadline = time.monotonic() + 15
    while load.pending and time.monotonic() < deadline and not load.errors:
        await asyncio.sleep(0.02)
    if load.errors:
        sys.exit(f"ABORTED: the server answered with errors: {load.errors[:3]}")
    if load.pending:
        sys.exit(f"ABORTED: {len(load.pending)} messages not delivered to all {load.need} receivers 15 s after the run")
    d = c.CpuMeter.diff(marks["a"]["cpu"], marks["b"]["cpu"])
    m = {k: marks["b"][k] - marks["a"].get(k, 0.0) for k in marks["b"] if k in METRICS or k.startswith("le ")}
    lat = sorted(load.latencies)
    T = d["t"]
    return {
        "R": load.need, "mode": "closed" if rate is None else "open", "offered_per_s": rate,
        "in_flight": in_flight if rate is None else None, "window_s": round(T, 3),
        "completed_per_s": load.completed_in_window / T if rate is None else len(lat) / T,
        "messages": m["parley_send_batch_size_sum"], "batches": m["parley_send_batch_size_count"],
        "commit_s": m["parley_send_batch_commit_seconds_sum"],
        "commit_buckets": {k[3:]: v for k, v in m.items() if k.startswith("le ")},
        "server_cpu_s": d["server"], "loop_cpu_s": d["loop"], "loop_wait_s": marks["b"]["wait"] - marks["a"]["wait"],
        "p50_ms": c.percentile(lat, 50) * 1e3, "p99_ms": c.percentile(lat, 99) * 1e3,
        "mean_ms": sum(lat) / len(lat) * 1e3 if lat else float("nan"),
        "samples": len(lat), "other_core_pct": d["other"] / T * 100, "gen_core_pct": d["gen"] / T * 100,
        "load1": os.getloadavg()[0],
    }


def show(r: dict) -> None:
    rate = "closed" if r["mode"] == "closed" else f"{r['offered_per_s']:7.0f}/s"
    print(f"  R={r['R']:<5} {rate:>10}  done {r['completed_per_s']:7.0f} msg/s  "
          f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  batch {r['messages'] / max(r['batches'], 1):5.1f}  "
          f"server {r['server_cpu_s'] / r['window_s'] * 100:3.0f}% loop {r['loop_cpu_s'] / r['window_s'] * 100:3.0f}%  "
          f"cpu-wait {r['loop_wait_s'] / r['window_s'] * 100:3.0f}%  load1 {r['load1']:.1f}", file=sys.stderr, flush=True)


async def setup(base_url: str, sizes: list[int]) -> tuple[str, dict[int, int], list[str]]:
    rid = c.run_id()
    api = c.Api(base_url)
    try:
        users = await api.register_many([f"k{rid}s"] + [f"k{rid}r{i}" for i in range(max(sizes))])
        sender = users[0][1]
        rooms = {}
        for R in sizes:
            rooms[R] = await api.create_room(sender, f"capacity {rid} R={R}")
            await asyncio.gather(*(api.join(tok, rooms[R]) for _uid, tok in users[1 : R + 1]))
        print(f"  rooms of {sizes} joined", file=sys.stderr)
    finally:
        await api.close()
    return sender, rooms, [tok for _uid, tok in users[1:]]


async def campaign(args, server: c.Server) -> list[dict]:
    import aiohttp

    sender_token, rooms, tokens = await setup(server.base_url, args.sizes)
    loads = {R: Load(rooms[R], R) for R in args.sizes}
    current: list[Load] = [loads[args.sizes[0]]]
    t0 = time.monotonic()
    receivers = await g.connect_many([f"{server.ws_url}?token={t}" for t in tokens],
                                     lambda _i: g.Conn(lambda data: current[0].on_payload(data)))
    sender = await g.connect(f"{server.ws_url}?token={sender_token}",
                             lambda: g.Conn(lambda data: current[0].on_sender_payload(data)))
    print(f"  {len(receivers) + 1} WebSockets open in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    meter = c.CpuMeter(server.cpu_pids(), [os.getpid()])
    results: list[dict] = []
    total = len(args.sizes) * (1 + len(args.loads))
    async with aiohttp.ClientSession() as session:
        for R in args.sizes:
            load = current[0] = loads[R]
            load.sender = sender
            w = args.in_flight or IN_FLIGHT.get(R, 10)
            cap = await point(load, server, session, meter, rate=None, in_flight=w,
                              warmup=args.warmup, window=args.window)
            results.append(cap)
            print(f"[{len(results)}/{total}] capacity at R={R} (closed loop, {w} in flight): "
                  f"{cap['completed_per_s']:.0f} msg/s", file=sys.stderr)
            show(cap)
            for frac in args.loads:
                r = await point(load, server, session, meter, rate=frac * cap["completed_per_s"], in_flight=0,
                                warmup=args.warmup, window=args.window)
                r["load_fraction"] = frac
                r["capacity_per_s"] = cap["completed_per_s"]
                results.append(r)
                print(f"[{len(results)}/{total}] R={R} at {frac:.0%} of capacity", file=sys.stderr)
                show(r)
    for conn in [*receivers, sender]:
        conn.close()
    return results


def compare(results: list[dict], consts: model.Constants) -> list[dict]:
    rows = []
    for r in results:
        if r["mode"] != "open":
            continue
        p = model.predict(consts, r["R"], r["offered_per_s"], contention=model.contention_of(r))
        rows.append({**r, "pred_p50_ms": p.p50_s * 1e3, "pred_p99_ms": p.p99_s * 1e3, "pred_rho": p.rho,
                     "pred_batch": p.batch, "contention": model.contention_of(r)})
    return rows


def table(rows: list[dict]) -> str:
    out = ["| R | load | msgs/s | batch (model) | loop busy (model ρ) | contention | p50 ms (model) | p99 ms (model) | p99 error | load1 |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        err = (r["pred_p99_ms"] - r["p99_ms"]) / r["p99_ms"] * 100
        out.append(f"| {r['R']} | {r['load_fraction']:.0%} | {r['offered_per_s']:,.0f} | "
                   f"{r['messages'] / max(r['batches'], 1):.1f} ({r['pred_batch']:.1f}) | "
                   f"{(r['loop_cpu_s'] + r['loop_wait_s']) / r['window_s']:.0%} ({r['pred_rho']:.0%}) | x{r['contention']:.2f} | "
                   f"{r['p50_ms']:.1f} ({r['pred_p50_ms']:.1f}) | {r['p99_ms']:.1f} ({r['pred_p99_ms']:.1f}) | "
                   f"{err:+.0f} % | {r['load1']:.1f} |")
    return "\n".join(out)


def plot(rows: list[dict], consts: model.Constants, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["R"] for r in rows})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4), squeeze=False)
    for ax, R in zip(axes[0], sizes, strict=True):
        mine = [r for r in rows if r["R"] == R]
        cap = mine[0]["capacity_per_s"]
        xs = [r["load_fraction"] for r in mine]
        ax.plot(xs, [r["p50_ms"] for r in mine], "o", color="tab:blue", label="p50 measured")
        ax.plot(xs, [r["p99_ms"] for r in mine], "s", color="tab:red", label="p99 measured")
        cont = sorted(r["contention"] for r in mine)[len(mine) // 2]
        fine = [f / 100 for f in range(5, 96)]
        preds = [model.predict(consts, R, f * cap, contention=cont) for f in fine]
        ax.plot(fine, [p.p50_s * 1e3 for p in preds], "-", color="tab:blue", label="p50 model")
        ax.plot(fine, [p.p99_s * 1e3 for p in preds], "-", color="tab:red", label="p99 model")
        ax.plot(xs, [r["pred_p99_ms"] for r in mine], "x", color="tab:red", label="p99 model, the run's contention")
        ax.axvspan(0.3, 0.8, color="0.93", zorder=0)
        ax.set_title(f"R = {R}: capacity {cap:,.0f} msg/s; curves at contention x{cont:.1f}", fontsize=9)
        ax.set_xlabel("offered load (fraction of measured capacity)")
        ax.set_ylabel("send → last delivery, ms")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Parley: capacity model vs measurement (load average {rows[0]['load1']:.1f}-"
                 f"{max(r['load1'] for r in rows):.1f} on 2 cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"  plot written: {path}", file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="3,100,1000", help="room sizes R, comma-separated")
    p.add_argument("--loads", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", help="fractions of capacity")
    p.add_argument("--window", type=float, default=6.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--in-flight", type=int, default=0, help="closed-loop messages in flight (default per R)")
    p.add_argument("--quick", action="store_true", help="5 load points, 3 s windows (~3 min; most of it registering 1,001 accounts)")
    p.add_argument("--write", action="store_true", help=f"store the fitted constants in {DATA_JSON.relative_to(ROOT)}")
    p.add_argument("--plot", default=str(ROOT / "docs" / "capacity.png"), help="where to draw ('' for none)")
    p.add_argument("--results", help="refit and plot from a --json file of an earlier run; no server")
    c.add_server_args(p)
    args = p.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.loads = [float(s) for s in args.loads.split(",")]
    if args.quick:
        args.loads, args.window, args.warmup = [0.1, 0.3, 0.5, 0.7, 0.9], 3.0, 0.7
    if args.results:
        results = [json.loads(line) for line in Path(args.results).read_text().splitlines() if line.strip()]
    else:
        results = measure_all(args)
        for r in results:
            c.emit_json(args.json, r)
    consts = model.fit(results)
    rows = compare(results, consts)
    print(json.dumps(consts.as_dict(), indent=1))
    print(table(rows))
    if args.plot:
        plot(rows, consts, Path(args.plot))
    if args.write:
        DATA_JSON.write_text(json.dumps(consts.as_dict(), indent=1) + "\n")
        print(f"  constants written: {DATA_JSON}", file=sys.stderr)


def measure_all(args) -> list[dict]:
    c.guard_signals()
    c.raise_nofile()
    server = c.Server.from_args(args)
    try:
        return c.run(campaign(args, server))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
