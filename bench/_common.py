"""Shared plumbing of the benchmarks: the server process, /proc readings, REST set-up, scratch databases.

Only loopback targets are allowed: every benchmark here sends traffic to 127.0.0.1 alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
PASSWORD = "bench-Pw-" + "q7Zr4xK2"
# The limiter still runs on every frame; these values only keep it from refusing the load generator.
# Registration has a limit of its own (per address), lifted so that set-up can make 1,000 accounts.
RATE_LIMIT_ENV = {
    "PARLEY_RATE_LIMIT_BURST": "1000000",
    "PARLEY_RATE_LIMIT_PER_SEC": "1000000",
    "PARLEY_REGISTER_RATE_BURST": "1000000",
    # Every generated connection comes from 127.0.0.1, and idle.py puts 1,000 on one user.
    "PARLEY_MAX_CONNECTIONS_PER_USER": "1000000",
    "PARLEY_MAX_CONNECTIONS_PER_ADDRESS": "1000000",
}


# ---------------------------------------------------------------------------------------------- event loop


def run(coro):
    """Run a coroutine on uvloop when it is installed (it is in the `bench` extra), else on asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def raise_nofile(want: int = 1 << 20) -> int:
    """Raise the soft limit of open files to the hard limit (children, such as the server, inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else want
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------------------------- /proc


def proc_ticks(pid: int | str) -> int:
    """utime + stime of one process (all its threads), in clock ticks; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), counted from `state`


def main_thread_seconds(pids: list[int]) -> float:
    """CPU of the processes' main threads only: for an asyncio server, its event loop."""
    return sum(proc_ticks(f"{p}/task/{p}") for p in pids) / CLK_TCK


def cpu_seconds(pids: list[int]) -> float:
    return sum(proc_ticks(p) for p in pids) / CLK_TCK


def children_of(pid: int) -> list[int]:
    """All descendants of `pid` (workers a server may fork), found by scanning /proc."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        parent[int(entry)] = int(raw[raw.rindex(b")") + 2 :].split()[1])
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        frontier += kids
    return found


def pids_named(comm: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == comm:
                        out.append(int(entry))
            except OSError:
                pass
    return out


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


class CpuMeter:
    """Snapshot CPU of the server(s), the load generator and the machine, then report the difference."""

    def __init__(
        self, server_pids: list[int], gen_pids: list[int], extra: dict[str, list[int]] | None = None
    ):
        self.server_pids, self.gen_pids, self.extra = server_pids, gen_pids, extra or {}

    def snap(self) -> dict[str, float]:
        s = {
            "t": time.monotonic(),
            "server": cpu_seconds(self.server_pids),
            "gen": cpu_seconds(self.gen_pids),
            "loop": main_thread_seconds(self.server_pids),
        }
        for name, pids in self.extra.items():
            s[name] = cpu_seconds(pids)
        s["busy"], s["total"] = machine_busy()
        return s

    @staticmethod
    def diff(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
        d = {k: b[k] - a[k] for k in a}
        busy, total = d.pop("busy"), d.pop("total")
        d["machine_util"] = busy / total if total else 0.0
        # CPU spent by anything else on the machine (other jobs, PostgreSQL, kernel threads): a noise gauge.
        d["other"] = max(
            0.0, busy / CLK_TCK - d["server"] - d["gen"] - sum(d[k] for k in a if k not in _BASE)
        )
        return d


_BASE = {"t", "server", "gen", "loop", "busy", "total"}


def guard_signals() -> None:
    """Turn SIGTERM (timeout(1), kill) into SystemExit so that `finally` stops the server we started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no orphaned server


# ---------------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK_HOSTS and not host.startswith("127."):
        sys.exit(f"refusing to target {host!r}: the benchmarks only send traffic to 127.0.0.1 / localhost")


def parley_exe() -> list[str]:
    local = Path(sys.executable).with_name("parley")
    if local.exists():
        return [str(local)]
    found = shutil.which("parley")
    if found:
        return [found]
    sys.exit("no `parley` command: install the project first (make venv)")


def libpq_url(url: str) -> str:
    """postgresql+asyncpg://... -> postgresql://... for psql."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.split("+")[0], *parts[1:]))


def psql(url: str, sql: str) -> str:
    out = subprocess.run(
        ["psql", libpq_url(url), "-v", "ON_ERROR_STOP=1", "-Atc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


@dataclass
class ScratchPostgres:
    """Creates the database named in the URL (refusing one that exists) and drops it afterwards."""

    url: str
    keep: bool = False
    created: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.dbname = parts.path.lstrip("/")
        if not self.dbname.replace("_", "").isalnum():
            sys.exit(f"database name {self.dbname!r}: use letters, digits and '_' only")
        check_loopback(self.url)
        self.admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))

    def create(self) -> None:
        if psql(self.admin_url, f"SELECT 1 FROM pg_database WHERE datname = '{self.dbname}'"):
            sys.exit(
                f"database {self.dbname} already exists; the benchmark wants a scratch one: "
                f"drop it (psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE {self.dbname}') or name another"
            )
        psql(self.admin_url, f"CREATE DATABASE {self.dbname}")
        self.created = True

    def drop(self) -> None:
        if self.created and not self.keep:
            psql(self.admin_url, f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")


@dataclass
class Server:
    """A `parley serve` child process on a fresh database, or an already running server (`--url`)."""

    base_url: str = ""
    pids: list[int] = field(default_factory=list)
    database_url: str = ""
    proc: subprocess.Popen | None = None
    tmpdir: str = ""
    scratch: ScratchPostgres | None = None
    log_path: str = ""

    @property
    def ws_url(self) -> str:
        p = urlsplit(self.base_url)
        return urlunsplit(("wss" if p.scheme == "https" else "ws", p.netloc, "/ws", "", ""))

    def cpu_pids(self) -> list[int]:
        """The server process(es) whose CPU counts: the given PIDs and, for our own child, its descendants."""
        pids = list(self.pids)
        if self.proc is not None:
            pids += [p for p in children_of(self.proc.pid) if p not in pids]
        return pids

    @classmethod
    def from_args(cls, args: argparse.Namespace, extra_env: dict[str, str] | None = None) -> Server:
        pids = [int(p) for p in args.pids.split(",")] if args.pids else []
        if args.url:
            check_loopback(args.url)
            return cls(base_url=args.url.rstrip("/"), pids=pids, database_url=args.database_url or "")
        srv = cls(pids=pids)
        srv.tmpdir = tempfile.mkdtemp(prefix="parley-bench-")
        if args.database_url:
            srv.database_url = args.database_url
            if args.database_url.startswith("postgres"):
                srv.scratch = ScratchPostgres(args.database_url, keep=args.keep_db)
                srv.scratch.create()
        else:
            srv.database_url = f"sqlite:///{srv.tmpdir}/parley.db"
        try:
            srv.start(args, extra_env or {})
        except BaseException:
            srv.stop()
            raise
        return srv

    def start(self, args: argparse.Namespace, extra_env: dict[str, str]) -> None:
        env = {**os.environ, **RATE_LIMIT_ENV, **extra_env, "PARLEY_DATABASE_URL": self.database_url}
        exe = parley_exe()
        up = subprocess.run(
            [*exe, "db", "upgrade", "--database-url", self.database_url],
            env=env,
            capture_output=True,
            text=True,
        )
        if up.returncode:
            sys.exit(f"parley db upgrade failed:\n{up.stdout}{up.stderr}")
        port = args.port or free_port()
        self.log_path = os.path.join(self.tmpdir, "server.log")
        log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            [*exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--database-url", self.database_url],
            env={**env, "PARLEY_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.pids.insert(0, self.proc.pid)
        self.base_url = f"http://127.0.0.1:{port}"
        self.wait_ready(port)
        print(f"  server pid {self.proc.pid} on {self.base_url}, {self.database_url}", file=sys.stderr)

    def wait_ready(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                sys.exit(f"the server exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
            time.sleep(0.1)
        sys.exit(f"the server did not listen on {port} within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.scratch is not None:
            try:
                self.scratch.drop()
            except subprocess.CalledProcessError as e:
                print(f"warning: could not drop {self.scratch.dbname}: {e.stderr}", file=sys.stderr)
        self._save_log()
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def _save_log(self) -> None:
        """Keep the server's log under bench/results/ when the run failed or the server logged errors."""
        if not self.log_path or not os.path.exists(self.log_path):
            return
        with open(self.log_path, errors="replace") as f:
            text = f.read()
        errors = text.count(" ERROR ") + text.count("Traceback")
        failing = sys.exc_info()[0] not in (None, GeneratorExit)
        if not errors and not failing:
            return
        dest = Path(__file__).resolve().parent / "results" / f"server-{self.proc.pid if self.proc else 0}.log"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.log_path, dest)
        print(f"  server log kept: {dest} ({errors} errors or tracebacks logged)", file=sys.stderr)

    def count_messages(self, sqlite_path: str | None = None) -> int | None:
        """Rows of type 'message' in the server's database, or None when we cannot see it."""
        sql = "SELECT count(*) FROM events WHERE type='message'"
        url = self.database_url
        if url.startswith("postgres"):
            return int(psql(url, sql))
        if url.startswith("sqlite"):
            import sqlite3

            path = url.split(":///", 1)[1]
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                return db.execute(sql).fetchone()[0]
        return None


def add_server_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("server")
    g.add_argument(
        "--database-url",
        help="use this database instead of a fresh SQLite file; a postgresql:// "
        "database is created for the run (it must not exist) and dropped afterwards",
    )
    g.add_argument("--keep-db", action="store_true", help="do not drop the scratch PostgreSQL database")
    g.add_argument(
        "--url",
        help="target an already running server or proxy (http://127.0.0.1:PORT) instead of starting one",
    )
    g.add_argument(
        "--pids",
        help="comma-separated PIDs whose CPU is summed as the server's "
        "(several nodes behind nginx, say); added to our own server's PID",
    )
    g.add_argument("--port", type=int, default=0, help="port of the server we start (default: a free one)")
    g.add_argument("--json", metavar="PATH", help="also append the result as one JSON line to PATH")


# ---------------------------------------------------------------------------------------------- REST set-up


def run_id() -> str:
    return secrets.token_hex(3)


class Api:
    """The few REST calls the benchmarks need, over one aiohttp session."""

    def __init__(self, base_url: str, concurrency: int = 8):
        import aiohttp

        self.base = base_url + "/api/v1"
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
        self.sem = asyncio.Semaphore(concurrency)

    async def close(self) -> None:
        await self.session.close()

    async def call(self, method: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.sem:
            for attempt in range(20):
                async with self.session.request(method, self.base + path, json=body, headers=headers) as r:
                    if r.status == 429 and attempt < 19:
                        await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                        continue
                    data = await r.json(content_type=None) if r.status != 204 else {}
                    if r.status >= 400:
                        raise RuntimeError(f"{method} {path} -> {r.status} {data}")
                    return data
        raise AssertionError("unreachable")

    async def register(self, username: str) -> tuple[int, str]:
        data = await self.call("POST", "/auth/register", body={"username": username, "password": PASSWORD})
        return data["user"]["id"], data["token"]

    async def register_many(self, names: list[str], label: str = "users") -> list[tuple[int, str]]:
        t0 = time.monotonic()
        done = 0

        async def one(name: str) -> tuple[int, str]:
            nonlocal done
            res = await self.register(name)
            done += 1
            if done % 250 == 0:
                print(f"  registered {done}/{len(names)} {label}", file=sys.stderr)
            return res

        out = await asyncio.gather(*(one(n) for n in names))
        print(f"  registered {len(names)} {label} in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        return out

    async def create_room(self, token: str, name: str) -> int:
        room = await self.call("POST", "/rooms", token, {"name": name, "visibility": "public"})
        return room["id"]

    async def join(self, token: str, room_id: int) -> None:
        await self.call("POST", f"/rooms/{room_id}/join", token)


# ---------------------------------------------------------------------------------------------- results


def percentile(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, math.ceil(q / 100 * len(sorted_vals)) - 1))  # nearest rank
    return sorted_vals[k]


def emit_json(path: str | None, record: dict) -> None:
    if path:
        import json

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
