"""Fan-out across nodes: PostgreSQL + Redis + N `parley serve` nodes behind nginx, then
`bench/fanout.py` against nginx with the CPU of every node summed.

Receivers connect through nginx, which spreads them round-robin over the nodes; the sender too.
Uses the test suite's cluster harness (`tests/support/cluster.py`): its own Redis, its own
PostgreSQL cluster (fsync off: this measures the Redis hop and the fan-out, not the disk) and
nginx from Debian, all on 127.0.0.1, all stopped at the end.

    .venv/bin/python bench/cluster.py --nodes 2 -R 100
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.cluster import Cluster  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("-R", type=int, default=100)
    p.add_argument("-W", type=int, default=10)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args()
    env = {"PARLEY_RATE_LIMIT_BURST": "1000000", "PARLEY_RATE_LIMIT_PER_SEC": "1000000",
           "PARLEY_REGISTER_RATE_BURST": "1000000", "PARLEY_MAX_CONNECTIONS_PER_USER": "1000000",
           "PARLEY_MAX_CONNECTIONS_PER_ADDRESS": "1000000", "PARLEY_LOG_LEVEL": "WARNING"}
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="parley-bench-cluster-")), env=env)
    try:
        cluster.start(nodes=args.nodes, nginx=True)
        assert cluster.nginx is not None
        pids = ",".join(str(n.proc.pid) for n in cluster.nodes if n.proc)
        command = [sys.executable, str(ROOT / "bench" / "fanout.py"), "-R", str(args.R), "-W", str(args.W),
                   "--url", cluster.nginx.url, "--pids", pids]
        if args.json:
            command += ["--json", args.json]
        print(f"{args.nodes} nodes behind nginx at {cluster.nginx.url}, node pids {pids}", flush=True)
        subprocess.run(command, check=True)
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
