"""Fixtures for the multi-node tests: one cluster (own PostgreSQL, own Redis, 3 nodes, nginx) per
test module. A test that takes something down leaves it to `cluster` to bring it back for the next.

These tests need PostgreSQL 15's binaries, redis-server and nginx; when they cannot start the
cluster they fail, with the reason, and never skip."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.support.cluster import NGINX, PG_BIN, REDIS_SERVER, Cluster, running_cluster


def _require_tools() -> None:
    missing = [p for p in (str(PG_BIN / "initdb"), REDIS_SERVER, NGINX) if not Path(p).exists()]
    if missing:
        pytest.fail(f"the multi-node tests need {', '.join(missing)}: install postgresql-15, redis-server and "
                    "nginx-light (scripts/test-deps.sh)", pytrace=False)


@pytest.fixture(scope="module")
def cluster_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _require_tools()
    workdir = tmp_path_factory.mktemp("cluster")
    try:
        with running_cluster(workdir, nodes=3) as cluster:
            yield cluster
    except RuntimeError as exc:
        pytest.fail(f"could not start the PostgreSQL + Redis + nginx cluster: {exc}", pytrace=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def cluster(cluster_module: Cluster, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The module's cluster with everything running; its logs are printed when the test fails."""
    cluster_module.heal()
    yield cluster_module
    if request.node.stash.get(_FAILED, False):
        print(cluster_module.logs())


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client without aiohttp's default cap of 100 connections."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        yield http


@pytest.fixture
async def db(cluster: Cluster) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the cluster's database, to check what is stored."""
    conn = await asyncpg.connect(cluster.database_url, timeout=10)
    try:
        yield conn
    finally:
        await conn.close()
