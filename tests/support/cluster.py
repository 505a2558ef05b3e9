"""Several real Parley nodes for tests: an own Redis, an own PostgreSQL cluster, N `parley serve`
processes and nginx in front, all on 127.0.0.1 and on free ports (never 6379 or 5432).

Every process started here is stopped by `close()` (the fixtures call it in `finally`), and as a
last resort at interpreter exit; redis-server, nginx and the nodes also die with the test process
(PR_SET_PDEATHSIG) if it is killed outright.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from parley.blobs.local import process_alive
from tests.support.server import FAST_LIMITS, ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
PG_BIN = Path(os.environ.get("PARLEY_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RESERVED_PORTS = {5432, 6379}

_cleanups: list[Callable[[], None]] = []


@atexit.register
def _last_resort() -> None:
    for cleanup in reversed(_cleanups):
        with contextlib.suppress(Exception):
            cleanup()


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the test process goes away."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _child_setup() -> Callable[[], None] | None:
    """PR_SET_PDEATHSIG fires when the *thread* that started the child ends, so it is only set
    from the main thread (a child started from asyncio.to_thread would die with that worker)."""
    return _die_with_parent if threading.current_thread() is threading.main_thread() else None


def port() -> int:
    while True:
        candidate = free_port()
        if candidate not in RESERVED_PORTS:
            return candidate


def wait_port(number: int, timeout: float, alive: Callable[[], bool] = lambda: True, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what or 'process'} exited before listening on port {number}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", number), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what or 'process'} did not listen on port {number} within {timeout}s")


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


# -- Redis -----------------------------------------------------------------------------------------


class RedisServer:
    """`redis-server` without persistence on a port of its own; kill() and start() keep the port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"redis-{self.port}.log"
        _cleanups.append(self.kill)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.workdir), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_child_setup())
        log.close()
        try:
            wait_port(self.port, timeout, lambda: self.proc is not None and self.proc.poll() is None, "redis-server")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {_tail(self.log_path)}") from None
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        """kill -9, then a fresh (empty) redis-server on the same port."""
        self.kill()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self, *args: str) -> str:
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip()


# -- PostgreSQL --------------------------------------------------------------------------------


PG_PREFIX = "parley-pg-"


def _run_as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def reap_orphan_clusters() -> None:
    """pg_ctl's server outlives a test process killed outright (SIGKILL, a cancelled CI job):
    stop and remove clusters whose test process is gone."""
    for owner in Path(tempfile.gettempdir()).glob(PG_PREFIX + "*/owner"):
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if process_alive(pid):
            continue
        data = owner.parent / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run([*_run_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                            "stop"], capture_output=True, timeout=60)
        shutil.rmtree(owner.parent, ignore_errors=True)


class PostgresCluster:
    """An own PostgreSQL cluster (initdb) in a temporary directory, on a port of its own.

    initdb refuses to run as root, so as root the cluster belongs to the `postgres` OS user and
    every command runs through `runuser`. The directory lives under /tmp, not under pytest's
    tmp_path, because pytest's base directory is private to the user running the tests."""

    def __init__(self, database: str = "parley") -> None:
        reap_orphan_clusters()
        self.port = port()
        self.database = database
        self.base = Path(tempfile.mkdtemp(prefix=PG_PREFIX))
        (self.base / "owner").write_text(str(os.getpid()))
        self.data = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self._as = _run_as_postgres()
        if self._as:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        _cleanups.append(self.destroy)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({result.returncode}): {result.stdout}{result.stderr}\n"
                               f"server log: {_tail(self.log_path)}")
        return result

    def init(self) -> PostgresCluster:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions")
        return self

    def start(self, timeout: float = 30.0) -> PostgresCluster:
        # fsync=off only skips flushing to the disk: a killed server loses nothing the OS holds.
        # (synchronous_commit=off would lose acknowledged commits on `stop -m immediate`.)
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log_path),
                  "-w", "-t", str(int(timeout)), "start", timeout=timeout + 10)
        return self

    def stop(self, mode: str = "immediate", wait: bool = True) -> None:
        """`smart` without waiting leaves the server shutting down for as long as a client stays
        connected: it refuses new connections ("the database system is shutting down")."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w" if wait else "-W", "stop")

    def wait_stopped(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.running:
            raise RuntimeError(f"PostgreSQL did not stop within {timeout}s")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self) -> None:
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  self.database)

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


# -- Parley nodes --------------------------------------------------------------------------------


class Node(ServerProcess):
    """A `parley serve` node on a database migrated beforehand; it dies with the test process."""

    def __init__(self, database_url: str, workdir: Path, env: dict[str, str] | None = None,
                 port: int | None = None) -> None:
        super().__init__(database_url, workdir, env, port, migrate=False)

    def launch(self, **popen: Any) -> None:
        super().launch(preexec_fn=_child_setup(), **popen)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def readyz(self) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


# -- nginx ---------------------------------------------------------------------------------------


def render_nginx_site(template: str, upstreams: list[int], listen: int, *, tls: tuple[str, str] | None = None,
                      redirect: int | None = None) -> str:
    """The production site config with its upstream servers and listen lines pointed at the test
    ports. Everything else (headers, timeouts, SSE and WebSocket locations) is used as written.
    With `tls` (certificate, key files) the main server speaks HTTPS on `listen` with those files;
    without it, plain HTTP (its TLS lines dropped). The port-80 redirect block listens on
    `redirect`, or is dropped."""
    upstream = re.search(r"upstream\s+parley\s*\{(?P<body>.*?)\}", template, re.S)
    if upstream is None:
        raise ValueError("deploy/nginx.conf has no `upstream parley { ... }` block")
    body = upstream.group("body")
    servers = re.findall(r"^[ \t]*server[ \t]+\S+?(?P<params>(?:[ \t]+[^;\n]*)?);[ \t]*$", body, re.M)
    if not servers:
        raise ValueError("the upstream block of deploy/nginx.conf lists no `server host:port;` line")
    params = servers[0]
    lines = "".join(f"    server 127.0.0.1:{p}{params};\n" for p in upstreams)
    new_body = re.sub(r"^[ \t]*server[ \t]+[^\n]*;[ \t]*\n", "", body, flags=re.M)
    new_body = "\n" + lines + new_body.lstrip("\n")
    site = template[:upstream.start("body")] + new_body + template[upstream.end("body"):]
    blocks = list(re.finditer(r"^server \{\n.*?^\}\n", site, re.M | re.S))
    redirects = [b for b in blocks if "return 301 https://" in b.group(0)]
    mains = [b for b in blocks if b not in redirects]
    if len(mains) != 1 or len(redirects) != 1:
        raise ValueError("deploy/nginx.conf needs one `server` block redirecting to https and one serving")
    main = _listen_on(mains[0].group(0), f"127.0.0.1:{listen}" + (" ssl http2" if tls else ""))
    if tls:
        main = re.sub(r"^([ \t]*ssl_certificate)[ \t]+[^\n]*;", rf"\1 {tls[0]};", main, flags=re.M)
        main = re.sub(r"^([ \t]*ssl_certificate_key)[ \t]+[^\n]*;", rf"\1 {tls[1]};", main, flags=re.M)
    else:
        main = re.sub(r"^[ \t]*(ssl_\w+|[^\n#]*Strict-Transport-Security)[^\n]*;[ \t]*\n", "", main, flags=re.M)
    moved = _listen_on(redirects[0].group(0), f"127.0.0.1:{redirect}") if redirect else ""
    for block, text in sorted([(mains[0], main), (redirects[0], moved)], key=lambda bt: -bt[0].start()):
        site = site[:block.start()] + text + site[block.end():]
    return site


def _listen_on(block: str, address: str) -> str:
    """A server block's listen lines made one, on `address`."""
    listened = False

    def listen_line(match: re.Match[str]) -> str:
        nonlocal listened
        if listened:
            return ""
        listened = True
        return f"{match.group(1)}listen {address};\n"

    block = re.sub(r"^([ \t]*)listen[ \t][^\n]*;[ \t]*\n", listen_line, block, flags=re.M)
    if not listened:
        raise ValueError("a server block of deploy/nginx.conf has no active `listen` line")
    return block


class Nginx:
    """nginx from `deploy/nginx.conf` with its prefix, pid, logs and temp files in `workdir`."""

    def __init__(self, workdir: Path, upstreams: list[int], *, tls: tuple[str, str] | None = None) -> None:
        self.dir = workdir / "nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port()
        self.upstreams = upstreams
        self.tls = tls  # (certificate, key): HTTPS on `port`, and the redirect block on `redirect_port`
        self.redirect_port = port() if tls else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = self.dir / "nginx.conf"
        self.error_log = self.dir / "error.log"
        _cleanups.append(self.stop)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        site = render_nginx_site(NGINX_TEMPLATE.read_text(), self.upstreams, self.port, tls=self.tls,
                                 redirect=self.redirect_port)
        (self.dir / "parley-site.conf").write_text(site)
        d = self.dir
        temp = "".join(f"    {kind}_temp_path {d / kind};\n" for kind in ("client_body", "proxy", "fastcgi",
                                                                           "uwsgi", "scgi"))
        self.conf.write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"worker_processes 1;\nworker_rlimit_nofile 16384;\npid {d / 'nginx.pid'};\n"
            f"error_log {self.error_log} warn;\n"
            "events { worker_connections 8192; }\n"
            "http {\n"
            f"    access_log {d / 'access.log'};\n" + temp
            + "    default_type application/octet-stream;\n"
            f"    include {d / 'parley-site.conf'};\n"
            "}\n")

    def start(self, timeout: float = 10.0) -> Nginx:
        self.write_config()
        check = subprocess.run([NGINX, "-t", "-p", str(self.dir), "-e", str(self.error_log), "-c", str(self.conf)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused the generated config: {check.stderr}")
        log = open(self.dir / "stderr.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.dir), "-e", str(self.error_log), "-c", str(self.conf), "-g", "daemon off;"],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_child_setup())
        log.close()
        try:
            wait_port(self.port, timeout, lambda: self.proc is not None and self.proc.poll() is None, "nginx")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {_tail(self.error_log)}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # fast shutdown of master and workers
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def stop_all(nodes: list[Node], grace: float = 5.0) -> None:
    """SIGTERM every node at once, then SIGKILL what is still there after `grace` seconds."""
    live = [n for n in nodes if n.running]
    for node in live:
        with contextlib.suppress(Exception):
            node.proc.terminate()  # type: ignore[union-attr]
    deadline = time.monotonic() + grace
    for node in live:
        with contextlib.suppress(Exception):
            node.proc.wait(max(0.1, deadline - time.monotonic()))  # type: ignore[union-attr]
        node.kill()


# -- the whole thing -------------------------------------------------------------------------------


class Cluster:
    """PostgreSQL + Redis + N nodes (+ nginx). Build with `Cluster(workdir).start(nodes=3)`."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        # Every node runs in `workdir`, so they do share one media folder.
        self.env = {**FAST_LIMITS, "PARLEY_TRUST_PROXY": "true", "PARLEY_MEDIA_SHARED": "1", **(env or {})}
        self.pg = PostgresCluster()
        self.redis = RedisServer(workdir)
        self.nodes: list[Node] = []
        self.nginx: Nginx | None = None
        _cleanups.append(self.close)

    @property
    def database_url(self) -> str:
        return self.pg.url

    def start(self, nodes: int = 3, nginx: bool = True) -> Cluster:
        self.redis.start()
        self.pg.init().start()
        self.pg.create_database()
        self.migrate()
        self.add_nodes(nodes)
        if nginx:
            self.nginx = Nginx(self.workdir, [n.port for n in self.nodes]).start()
        return self

    def migrate(self) -> None:
        """`parley db upgrade` once, before any node starts (nodes run with --no-migrate)."""
        result = subprocess.run([sys.executable, "-m", "parley", "db", "upgrade", "--database-url", self.database_url],
                                capture_output=True, text=True, timeout=120, cwd=self.workdir)
        if result.returncode != 0:
            raise RuntimeError(f"parley db upgrade failed: {result.stdout}{result.stderr}")

    def node_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**self.env, "PARLEY_BROKER_URL": self.redis.url, "PARLEY_DATABASE_URL": self.database_url,
                **(extra or {})}

    def add_nodes(self, count: int, env: dict[str, str] | None = None) -> list[Node]:
        new = [Node(self.database_url, self.workdir, env=self.node_env(env), port=port()) for _ in range(count)]
        for node in new:
            node.launch()
        self.nodes += new
        with ThreadPoolExecutor(max_workers=max(count, 1)) as pool:
            for ready in [pool.submit(node.wait_ready, 60.0) for node in new]:
                ready.result()
        return new

    def restart_node(self, node: Node) -> None:
        node.kill()
        node.start(60.0)

    def heal(self) -> None:
        """Bring back whatever a test took down (for module-scoped clusters)."""
        if not self.redis.running:
            self.redis.start()
        if not self.pg.running:
            self.pg.start()
        dead = [n for n in self.nodes if not n.running]
        for node in dead:
            node.launch()
        for node in dead:
            node.wait_ready(60.0)

    def logs(self) -> str:
        parts = [f"--- node {n.port} ---\n{n.log()}" for n in self.nodes]
        if self.nginx is not None:
            parts.append(f"--- nginx ---\n{_tail(self.nginx.error_log)}")
        parts.append(f"--- postgres ---\n{_tail(self.pg.log_path)}")
        return "\n".join(parts)

    def close(self) -> None:
        if self.nginx is not None:
            with contextlib.suppress(Exception):
                self.nginx.stop()
        stop_all(self.nodes)
        with contextlib.suppress(Exception):
            self.redis.kill()
        with contextlib.suppress(Exception):
            self.pg.destroy()


@contextlib.contextmanager
def running_cluster(workdir: Path, nodes: int = 3, *, nginx: bool = True,
                    env: dict[str, str] | None = None) -> Iterator[Cluster]:
    cluster = Cluster(workdir, env)
    try:
        cluster.start(nodes, nginx=nginx)
        yield cluster
    finally:
        cluster.close()
