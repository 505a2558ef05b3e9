"""Shared fixtures: databases (SQLite files and fresh PostgreSQL databases), real servers, clients."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.support.client import Api
from tests.support.s3 import CREDENTIALS, S3Server
from tests.support.server import FAST_LIMITS, SERVER_LOGS, ServerProcess, tracebacks_in

PG_ADMIN = os.environ.get("PARLEY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _pg_admin(sql: str) -> None:
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN} and is not reachable ({exc}). Start it with "
                    "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'.", pytrace=False)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database() -> str:
    name = f"parley_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    return name


def drop_pg_database(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = create_pg_database()
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'parley.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server per test module, on a fresh SQLite file, with generous rate limits."""
    workdir = tmp_path_factory.mktemp("server")
    proc = ServerProcess(f"sqlite:///{workdir / 'parley.db'}", workdir, env=FAST_LIMITS).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session", autouse=True)
def no_traceback_in_any_server_log() -> Iterator[None]:
    """After the whole run, every server log the suite wrote must be free of tracebacks: bad input,
    outages and refused requests are answered and logged in a line, never as an unhandled fault."""
    yield
    found = {path: tracebacks_in(path) for path in SERVER_LOGS}
    found = {path: tb for path, tb in found.items() if tb}
    if found:
        report = "\n\n".join(f"{path}:\n{tbs[0]}" for path, tbs in found.items())
        pytest.fail(f"{sum(map(len, found.values()))} traceback(s) in {len(found)} server log(s):\n{report}",
                    pytrace=False)


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-compatible server (moto's server mode) for the session; its credentials are set in
    this process's environment for the clients. A test that needs it fails if it cannot start."""
    try:
        server = S3Server(tmp_path_factory.mktemp("s3")).start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    try:
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def names() -> Iterator[object]:
    """Unique usernames, so tests sharing a module's server never collide."""

    def make(prefix: str = "u") -> str:
        return f"{prefix}{uuid.uuid4().hex[:8]}"

    yield make


async def new_user(http: aiohttp.ClientSession, base: str, name: str, **extra: object) -> Api:
    return await Api(http, base).register(name, **extra)
