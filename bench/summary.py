"""`make bench`: every benchmark in a short, bounded mode, then one table of figure, target, measured, met?

Each benchmark runs as its own process (its progress goes to the terminal as it runs), appends its
result to a JSON-lines file, and is stopped if it overruns its time limit. Plots go to docs/
(capacity.py draws docs/capacity.png). The figures are quick-mode ones: a shared machine skews them,
so the load average is printed beside them; docs/performance.md holds the careful runs.

    .venv/bin/python bench/summary.py              # ~8 min on a quiet machine, ~13 under load
    .venv/bin/python bench/summary.py --only capacity,fanout100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Figure:
    label: str
    target: str
    pick: Callable[[list[dict]], float | None]  # the measured value from the benchmark's records
    met: Callable[[float], bool] | None  # None: reported, no target
    unit: str


@dataclass(frozen=True)
class Bench:
    name: str
    argv: list[str]
    limit_s: int
    figures: list[Figure]


def _first(key: str, **match: object) -> Callable[[list[dict]], float | None]:
    def pick(records: list[dict]) -> float | None:
        for r in records:
            if all(r.get(k) == v for k, v in match.items()) and r.get(key) is not None:
                return float(r[key])
        return None

    return pick


def _capacity_p99_at_half(records: list[dict]) -> float | None:
    half = [r for r in records if r.get("R") == 100 and r.get("load_fraction") == 0.5]
    return half[0]["p99_ms"] if half else None


def _model_within(records: list[dict]) -> float | None:
    """Share of the open-loop runs between 30 % and 80 % of capacity whose p99 the model predicts
    within 20 % (the model is fitted to these very runs, as bench/capacity.py does)."""
    sys.path.insert(0, str(HERE.parent / "src"))
    from parley.core import capacity as model

    runs = [r for r in records if "loop_cpu_s" in r]
    if not runs:
        return None
    k = model.fit(runs)
    mid = [r for r in runs if r.get("mode") == "open" and 0.3 <= r["load_fraction"] <= 0.8]
    ok = [r for r in mid
          if abs(model.predict(k, r["R"], r["offered_per_s"], contention=model.contention_of(r)).p99_s * 1e3
                 - r["p99_ms"]) <= 0.2 * r["p99_ms"]]
    return len(ok) / len(mid) * 100 if mid else None


BENCHES = [
    Bench("fanout100", ["fanout.py", "-R", "100", "--window", "3"], 120, [
        Figure("fan-out R=100, server CPU per delivery", "≤ 10 µs",
               _first("server_cpu_us_per_delivery"), lambda v: v <= 10, "µs"),
        Figure("fan-out R=100, p99 send → last receiver (closed loop, 10 in flight)", "(reported)",
               _first("p99_ms"), None, "ms")]),
    Bench("fanout1000", ["fanout.py", "-R", "1000", "--window", "3"], 360, [
        Figure("fan-out R=1000, server CPU per delivery", "≤ 10 µs",
               _first("server_cpu_us_per_delivery"), lambda v: v <= 10, "µs")]),
    Bench("ingest", ["ingest.py", "--window", "3"], 120, [
        Figure("ingest, persisted messages/s (SQLite)", "≥ 5,000",
               _first("messages_per_s"), lambda v: v >= 5000, "msg/s")]),
    Bench("idle", ["idle.py", "-N", "2000", "--hold", "1"], 180, [
        Figure("idle WebSockets, RSS per connection (2,000)", "≤ 30 KiB",
               _first("kb_per_conn"), lambda v: v <= 30, "KiB")]),
    Bench("history", ["history.py", "-N", "2000", "--requests", "100"], 180, [
        Figure("open a room: latest page p50 (2,000 messages)", "≤ 200 ms",
               _first("latest_p50_ms"), lambda v: v <= 200, "ms"),
        Figure("first screen JS + CSS", "≤ 150 KB",
               lambda rs: ((_first("first_screen_js_bytes")(rs) or 0) + (_first("first_screen_css_bytes")(rs) or 0))
               / 1000 or None, lambda v: v <= 150, "KB")]),
    Bench("capacity", ["capacity.py", "--quick"], 480, [
        Figure("p99 send → delivery at half the capacity, R=100 (open loop)", "≤ 20 ms",
               _capacity_p99_at_half, lambda v: v <= 20, "ms"),
        Figure("capacity model: p99 within 20 % of measured, 30-80 % load", "100 % of runs",
               _model_within, lambda v: v >= 100, "% of runs")]),
]


def run(bench: Bench, out: Path) -> tuple[list[dict], str]:
    cmd = [sys.executable, str(HERE / bench.argv[0]), *bench.argv[1:], "--json", str(out)]
    for attempt in (1, 2):
        print(f"\n=== {bench.name}: {' '.join(bench.argv)} (at most {bench.limit_s} s)", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        try:
            proc = subprocess.run(cmd, timeout=bench.limit_s, stdout=sys.stderr)
            status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            status = f"stopped after {bench.limit_s} s"
        print(f"=== {bench.name}: {status} in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        # A failure, not an overrun, is tried once more: on a shared machine another job can take
        # the free port the benchmark picked before its server binds it.
        if status == "ok" or status.startswith("stopped") or attempt == 2:
            break
        print(f"=== {bench.name}: trying once more", file=sys.stderr, flush=True)
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []
    return records, status


def table(rows: list[tuple[str, str, str, str]]) -> str:
    head = ("figure", "target", "measured", "met?")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([fmt(head), fmt(tuple("-" * w for w in widths)), *(fmt(r) for r in rows)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated names: " + ",".join(b.name for b in BENCHES))
    args = p.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only.split(",")]
    rows: list[tuple[str, str, str, str]] = []
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="parley-make-bench-") as tmp:
        for i, bench in enumerate(chosen, 1):
            print(f"[{i}/{len(chosen)}]", end="", file=sys.stderr)
            records, status = run(bench, Path(tmp) / f"{bench.name}.jsonl")
            for fig in bench.figures:
                value = fig.pick(records) if records else None
                if value is None:
                    rows.append((fig.label, fig.target, f"none ({status})", "no"))
                    continue
                shown = f"{value:,.1f} {fig.unit}" if value < 1000 else f"{value:,.0f} {fig.unit}"
                met = "-" if fig.met is None else "yes" if fig.met(value) else "NO"
                rows.append((fig.label, fig.target, shown, met))
    print(f"\nmake bench: {time.monotonic() - started:.0f} s, load average {load_before:.1f} at the start and "
          f"{os.getloadavg()[0]:.1f} at the end (2 cores; other jobs skew the figures)")
    print(table(rows))


if __name__ == "__main__":
    main()
