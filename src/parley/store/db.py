"""Engines and transactions. SQLite gets one writer connection (it has one writer anyway) taking
its lock up front, and a pool of readers; PostgreSQL shares one pool for both."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from parley.core.errors import Unavailable
from parley.store.connect import PostgresConnectReads, SqliteConnectReads
from parley.store.history import PostgresHistoryReads, SqliteHistoryReads
from parley.store.messagelog import SYNC_LEVELS, PostgresMessageLog, SqliteMessageLog, sqlite_pragmas
from parley.store.outage import as_unavailable


def async_url(url: str) -> sa.URL:
    """Accept plain `sqlite:///` and `postgresql://` URLs and pick the async drivers."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
              "postgres": "postgresql+asyncpg"}.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=driver)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


class Database:
    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        target = async_url(url)
        self.messages: SqliteMessageLog | PostgresMessageLog
        if self.sqlite:
            self.writer = create_async_engine(target, pool_size=1, max_overflow=0, pool_timeout=60)
            self.reader = create_async_engine(target, pool_size=4, max_overflow=4)
            _sqlite_pragmas(self.writer, sqlite_synchronous, immediate=True)
            _sqlite_pragmas(self.reader, sqlite_synchronous, immediate=False)
            self.messages = SqliteMessageLog(target.database or "", SYNC_LEVELS[sqlite_synchronous.upper()])
            self.connects: SqliteConnectReads | PostgresConnectReads = SqliteConnectReads(
                target.database or "", sqlite_pragmas(SYNC_LEVELS[sqlite_synchronous.upper()]))
            self.history: SqliteHistoryReads | PostgresHistoryReads = SqliteHistoryReads(
                target.database or "", sqlite_pragmas(SYNC_LEVELS[sqlite_synchronous.upper()]))
        else:
            self.writer = create_async_engine(
                target, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_timeout=10)
            self.reader = self.writer
            self.messages = PostgresMessageLog(self.writer)
            self.connects = PostgresConnectReads(self.writer)
            self.history = PostgresHistoryReads(self.writer)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits on success; an unreachable database raises Unavailable."""
        with as_unavailable():
            async with self.writer.begin() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        with as_unavailable():
            async with self.reader.connect() as conn:
                yield conn

    async def ping(self) -> bool:
        try:
            async with self.read() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except Unavailable:
            return False

    async def close(self) -> None:
        await self.messages.close()
        await self.connects.close()
        await self.history.close()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(engine: AsyncEngine, synchronous: str, *, immediate: bool) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in sqlite_pragmas(SYNC_LEVELS[synchronous.upper()]):
            cur.execute(pragma)
        cur.close()
        # SQLite's own lower() folds ASCII only; searches must ignore case in every script.
        dbapi_conn.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # The writer takes the write lock at BEGIN, so a transaction never fails half-way
        # on a lock upgrade (SQLITE_BUSY_SNAPSHOT) when another process wrote meanwhile.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
