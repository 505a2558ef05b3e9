"""Reader threads for the hand-written SQLite reads of the hot paths (store/connect.py,
store/history.py): a small thread pool, each thread with its own stdlib `sqlite3` connection
(query-only, the server's pragmas but WAL, which is the writer's to set), so a read costs one
thread hop and no SQLAlchemy or aiosqlite machinery."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from parley.core.errors import Unavailable

T = TypeVar("T")


def unavailable(exc: sqlite3.OperationalError) -> Unavailable:
    error = Unavailable(f"the database is unavailable: {exc}; retry shortly")
    error.__cause__ = exc
    return error


class SqliteReaders:
    def __init__(self, path: str, pragmas: list[str], *, threads: int, name: str) -> None:
        self._path = path
        self._pragmas = [p for p in pragmas if "journal_mode" not in p]
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []

    def conn(self) -> sqlite3.Connection:
        """This reader thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            for pragma in self._pragmas:
                conn.execute(pragma)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            self._all.append(conn)
        return conn

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on a reader thread; SQLite's operational errors become `Unavailable`."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from exc

    async def close(self) -> None:
        def _close() -> None:
            for conn in self._all:
                conn.close()

        await asyncio.get_running_loop().run_in_executor(self.pool, _close)
        self.pool.shutdown(wait=False)
