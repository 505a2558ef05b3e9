"""Set-ups that cannot work are refused at start, with what to use instead: SQLite with the Redis
bus (SQLite serves one node), and a second `parley serve` on the same SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import REDIS_SERVER, RedisServer, port
from tests.support.server import FAST_LIMITS, ServerProcess


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if not Path(REDIS_SERVER).exists():
        pytest.fail(f"{REDIS_SERVER} is missing: install redis-server", pytrace=False)
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.kill()


def _serve(workdir: Path, database_url: str | None, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `parley serve` expecting it to refuse; if it starts instead, stop it and say so."""
    full = {**os.environ, **FAST_LIMITS, "PARLEY_LOG_LEVEL": "WARNING", **env}
    args = [sys.executable, "-m", "parley", "serve", "--host", "127.0.0.1", "--port", str(port())]
    if database_url is not None:
        args += ["--database-url", database_url]
    proc = subprocess.Popen(args, cwd=workdir, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"parley serve kept running instead of refusing: {out}{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_sqlite_with_the_redis_bus_is_refused(redis, tmp_path):
    result = _serve(tmp_path, f"sqlite:///{tmp_path / 'parley.db'}", {"PARLEY_BROKER_URL": redis.url})
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "postgresql://" in message, message
    assert "Traceback" not in message, message
    # The same when both come from the environment.
    result = _serve(tmp_path, None, {"PARLEY_BROKER_URL": redis.url,
                                     "PARLEY_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"})
    assert result.returncode != 0 and "postgresql://" in result.stdout + result.stderr


def test_a_second_node_on_the_same_sqlite_file_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'parley.db'}"
    first = ServerProcess(url, tmp_path, env=FAST_LIMITS).start()
    try:
        result = _serve(tmp_path, url, {"PARLEY_BROKER_URL": "memory://"})
        assert result.returncode != 0
        message = result.stdout + result.stderr
        assert "another parley serve" in message and "postgresql://" in message, message
        assert first.proc is not None and first.proc.poll() is None, "the first node must keep serving"
    finally:
        first.stop()
    # Once the first one is gone, the file is free again.
    again = ServerProcess(url, tmp_path, env=FAST_LIMITS).start()
    again.stop()


def test_several_nodes_refuse_a_local_media_folder(redis, tmp_path) -> None:
    env = {"PARLEY_BROKER_URL": redis.url, "PARLEY_MEDIA_URL": f"file://{tmp_path}/media"}
    result = _serve(tmp_path, "postgresql://postgres@127.0.0.1:5432/postgres", env)
    assert result.returncode != 0
    assert "PARLEY_MEDIA_SHARED=1" in result.stderr and "s3://" in result.stderr


def test_an_unreachable_s3_media_store_is_refused_at_start(tmp_path) -> None:
    env = {"PARLEY_MEDIA_URL": f"s3://media?endpoint=http://127.0.0.1:{port()}", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "y"}
    result = _serve(tmp_path, f"sqlite:///{tmp_path / 'parley.db'}", env)
    assert result.returncode != 0
    assert "PARLEY_MEDIA_URL: cannot reach S3" in result.stderr and "Traceback" not in result.stderr
