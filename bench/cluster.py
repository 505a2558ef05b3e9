"""Fan-out across nodes: PostgreSQL + Redis + N `parley serve` nodes behind nginx, then
`bench/fanout.py` against nginx with the CPU of every node summed.

Receivers connect through nginx, which spreads them round-robin over the nodes; the sender too.
Uses the test suite's cluster harness (`tests/support/cluster.py`): its own Redis, its own
PostgreSQL cluster (fsync off: this measures the Redis hop and the fan-out, not the disk) and
nginx from Debian, all on 127.0.0.1, all stopped at the end.

    .venv/bin/python bench/cluster.py --nodes 2 -R 100
    .venv/bin/python bench/cluster.py --nodes 2 -R 100 --baseline   # 1 node first, same PostgreSQL

`--baseline` first runs one node on the memory bus (no Redis, no nginx) against the same PostgreSQL,
then the N nodes, and prints the ratio of their server CPU per delivery: both under the same load
of the machine, which on a shared 2-core machine matters more than anything else.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.cluster import Cluster, Nginx, stop_all  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("-R", type=int, default=100)
    p.add_argument("-W", type=int, default=10)
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--baseline", action="store_true", help="first one node on the memory bus, then the ratio")
    args = p.parse_args()
    env = {"PARLEY_RATE_LIMIT_BURST": "1000000", "PARLEY_RATE_LIMIT_PER_SEC": "1000000",
           "PARLEY_REGISTER_RATE_BURST": "1000000", "PARLEY_MAX_CONNECTIONS_PER_USER": "1000000",
           "PARLEY_MAX_CONNECTIONS_PER_ADDRESS": "1000000", "PARLEY_LOG_LEVEL": "WARNING"}
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-cluster-"))
    cluster = Cluster(workdir, env=env)
    results = workdir / "results.jsonl"
    try:
        cluster.start(nodes=0, nginx=False)
        if args.baseline:
            [single] = cluster.add_nodes(1, env={"PARLEY_BROKER_URL": "memory://"})
            print(f"1 node on the memory bus at {single.url}, pid {single.proc.pid}", flush=True)
            _fanout(args, single.url, str(single.proc.pid), results)
            stop_all([single])
            cluster.nodes.remove(single)
        cluster.add_nodes(args.nodes)
        cluster.nginx = Nginx(workdir, [n.port for n in cluster.nodes]).start()
        pids = ",".join(str(n.proc.pid) for n in cluster.nodes if n.proc)
        print(f"{args.nodes} nodes behind nginx at {cluster.nginx.url}, node pids {pids}", flush=True)
        _fanout(args, cluster.nginx.url, pids, results)
        _bus_batches([n.url for n in cluster.nodes])
        if args.baseline:
            one, many = (json.loads(line) for line in results.read_text().splitlines())
            ratio = many["server_cpu_us_per_delivery"] / one["server_cpu_us_per_delivery"]
            print(f"server CPU per delivery: {args.nodes} nodes {many['server_cpu_us_per_delivery']:.2f} us "
                  f"(all nodes) vs 1 node {one['server_cpu_us_per_delivery']:.2f} us: {ratio:.2f}x")
    finally:
        cluster.close()


def _bus_batches(urls: list[str]) -> None:
    """Messages per Redis round trip over the whole run (set-up included), from the nodes' /metrics:
    what one node publishes, the others receive, so received / publish batches is the batch size."""
    totals = {"parley_bus_publish_seconds_count": 0.0, "parley_bus_received_total": 0.0}
    for url in urls:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
            for line in resp.read().decode().splitlines():
                name, _, value = line.partition(" ")
                if name in totals:
                    totals[name] += float(value)
    batches, received = totals["parley_bus_publish_seconds_count"], totals["parley_bus_received_total"]
    per = received / batches if batches else float("nan")
    print(f"bus: {received:,.0f} messages received by the nodes, {batches:,.0f} publish round trips: "
          f"{per:.1f} messages per round trip", flush=True)


def _fanout(args: argparse.Namespace, url: str, pids: str, results: Path) -> None:
    command = [sys.executable, str(ROOT / "bench" / "fanout.py"), "-R", str(args.R), "-W", str(args.W),
               "--url", url, "--pids", pids, "--json", str(results)]
    subprocess.run(command, check=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(results.read_text().splitlines()[-1] + "\n")


if __name__ == "__main__":
    main()
