"""Real `parley serve` processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

# Every server log the suite wrote; tests/conftest.py fails the run if any of them holds a traceback.
SERVER_LOGS: list[Path] = []
TRACEBACK = "Traceback (most recent call last)"
# Rate limits out of the way, for tests that send or register a lot (the throttle tests set their own).
# The spam filter is off unless a test turns it on (tests/*/test_spam*.py): scikit-learn's import
# and the starter training cost each server ~2 s of CPU, and new test accounts posting links
# would otherwise see their messages held at random.
FAST_LIMITS = {"PARLEY_RATE_LIMIT_BURST": "100000", "PARLEY_RATE_LIMIT_PER_SEC": "100000",
               "PARLEY_REGISTER_RATE_BURST": "100000", "PARLEY_SPAM": "off"}


def tracebacks_in(path: Path) -> list[str]:
    """Every traceback in a server log, each cut to its first 3,000 characters: a log that holds one
    means a fault escaped the error handling or a refused request was logged in full."""
    text = path.read_text(errors="replace") if path.exists() else ""
    found, start = [], text.find(TRACEBACK)
    while start != -1:
        found.append(text[max(0, start - 300):start + 3000])
        start = text.find(TRACEBACK, start + 1)
    return found


def _port_block() -> range:
    """This test process's own block of listening ports, below the kernel's ephemeral range: a port
    bound to 0 comes from that range, where any client socket of any process (or another xdist
    worker's next server) may take it the moment a killed server lets it go, and the server's
    restart on the same port then fails with "address already in use". Below it, only this
    worker hands ports out, in turn, so a freed port is not given again until the block wraps."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    size = 1000
    start = 20000 + (index % 12) * size
    if start + size > low:  # an unusual ephemeral range: fall back to the kernel's choice
        return range(0)
    return range(start, start + size)


_BLOCK = _port_block()
_next_port = [os.getpid() % 997]  # a fresh process (a rerun) starts elsewhere in the block


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (see `_port_block`)."""
    for _ in range(len(_BLOCK)):
        candidate = _BLOCK[_next_port[0] % len(_BLOCK)]
        _next_port[0] += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after `grace` seconds."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class ServerProcess:
    """One `parley serve` on 127.0.0.1. Every launcher of the suite is this class (the cluster's
    `Node` and the browser harness's `Server` extend it), so every log lands in SERVER_LOGS."""

    def __init__(self, database_url: str, workdir: Path, env: dict[str, str] | None = None,
                 port: int | None = None, *, migrate: bool = True, log_name: str | None = None) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.port = port or free_port()
        self.migrate = migrate
        self.env = {**os.environ, "PARLEY_LOG_LEVEL": "WARNING", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / (log_name or f"server-{self.port}.log")
        SERVER_LOGS.append(self.log_path)

    scheme = "http"  # "https" with PARLEY_TLS_CERT/KEY in env; then `client_tls` trusts its certificate
    client_tls: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "parley", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--database-url", self.database_url, *([] if self.migrate else ["--no-migrate"])]

    def launch(self, **popen: Any) -> None:
        """Start the process without waiting for it (several can then start in parallel)."""
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(self.command(), cwd=self.workdir, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, **popen)

    def wait_ready(self, timeout: float = 30.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise RuntimeError(f"parley serve on port {self.port} exited with {code}: {self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1, context=self.client_tls) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"parley serve on port {self.port} did not get ready in {timeout}s: {self.log()}")

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.launch()
        return self.wait_ready(timeout)

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush; what was acknowledged must already be durable."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc)

    def tracebacks(self) -> list[str]:
        return tracebacks_in(self.log_path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""
