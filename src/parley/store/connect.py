"""The two reads of every connect (issue 14): the session behind a token, and the user's rooms with
their ends and the user's joins; and the ends of rooms (a resume, the hub's checks). Hand-written
SQL, the same on both databases, without SQLAlchemy's async adapters (each statement through aiosqlite costs four thread hops and ~300 µs of event-loop
CPU): on SQLite one call on a small reader pool with stdlib `sqlite3` connections, on PostgreSQL
raw asyncpg on a connection from SQLAlchemy's pool. A reconnect storm is thousands of these.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import asyncpg

from parley.core.models import MemberState, Session, User
from parley.store.outage import as_unavailable
from parley.store.sqlite_readers import SqliteReaders, unavailable

# A bot (issue 12) works only while its owner's account does.
_SESSION = ("SELECT u.id, u.username, u.display_name, u.is_admin, u.disabled, u.created_at, u.avatar, u.status, "
            "s.id, s.expires_at, u.bot, u.bot_owner_id FROM sessions s JOIN users u ON u.id = s.user_id "
            "LEFT JOIN users o ON o.id = u.bot_owner_id "
            "WHERE s.token_hash = {0} AND s.expires_at > {1} AND u.disabled = {2} "
            "AND (u.bot_owner_id IS NULL OR o.disabled = {2})")
_CURSORS = ("SELECT r.id, r.last_seq, m.joined_seq FROM members m JOIN rooms r ON r.id = m.room_id "
            "WHERE m.user_id = {0} AND m.state = '" + MemberState.JOINED.value + "'")
_ENDS = "SELECT id, last_seq FROM rooms WHERE id "
READERS = 2


def _session(row: Any) -> tuple[User, Session]:
    user = User(row[0], row[1], row[2], bool(row[3]), bool(row[4]), row[5], row[6], row[7], bool(row[10]), row[11])
    return user, Session(row[8], row[0], row[9])


def _run_batch(calls: list[tuple[Any, tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
    """On a reader thread: each call's result, or its exception (one failing read fails only itself)."""
    out: list[tuple[bool, Any]] = []
    for fn, args in calls:
        try:
            out.append((True, fn(*args)))
        except Exception as exc:  # handed to the caller that asked for this read
            out.append((False, exc))
    return out


def _settle(futures: list[asyncio.Future[Any]], done: asyncio.Future[list[tuple[bool, Any]]]) -> None:
    if done.cancelled():  # the pool shut down under it
        for future in futures:
            future.cancel()
        return
    results = [(False, done.exception())] * len(futures) if done.exception() else done.result()
    for future, (ok, value) in zip(futures, results, strict=True):
        if future.done():  # the caller went away (a client that left mid-handshake)
            continue
        if ok:
            future.set_result(value)
        elif isinstance(value, sqlite3.OperationalError):
            future.set_exception(unavailable(value))
        else:
            future.set_exception(value)


class SqliteConnectReads:
    def __init__(self, path: str, pragmas: list[str]) -> None:
        self._readers = SqliteReaders(path, pragmas, threads=READERS, name="parley-sqlite-connect")
        self._conn = self._readers.conn
        self._session_sql = _SESSION.format("?", "?", "0")
        self._cursors_sql = _CURSORS.format("?")
        self._queued: list[tuple[Any, tuple[Any, ...], asyncio.Future[Any]]] = []

    async def _run(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` on a reader thread, with every other read asked for in this turn of the
        event loop: one thread hop per turn instead of one per read (a reconnect storm asks for
        hundreds in a turn, and each hop costs the event loop a GIL hand-over)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._queued:
            loop.call_soon(self._submit, loop)
        self._queued.append((fn, args, future))
        return await future

    def _submit(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._queued = self._queued, []
        job = loop.run_in_executor(self._readers.pool, _run_batch, [(fn, args) for fn, args, _ in batch])
        job.add_done_callback(lambda done: _settle([future for _, _, future in batch], done))

    async def session_user(self, token_hash: bytes, now: int) -> tuple[User, Session] | None:
        return await self._run(self._session_user, token_hash, now)

    def _session_user(self, token_hash: bytes, now: int) -> tuple[User, Session] | None:
        # fetchall, not fetchone: a statement left unfinished keeps its read transaction open on this
        # connection, and every later read here would see that old snapshot (stale room ends).
        rows = self._conn().execute(self._session_sql, (token_hash, now)).fetchall()
        return _session(rows[0]) if rows else None

    async def joined_cursors(self, user_id: int) -> dict[int, tuple[int, int]]:
        return await self._run(self._joined_cursors, user_id)

    def _joined_cursors(self, user_id: int) -> dict[int, tuple[int, int]]:
        return {r[0]: (r[1], r[2]) for r in self._conn().execute(self._cursors_sql, (user_id,))}

    async def room_ends(self, rooms: list[int]) -> dict[int, int]:
        return await self._run(self._room_ends, rooms)

    def _room_ends(self, rooms: list[int]) -> dict[int, int]:
        sql = _ENDS + "IN (" + ",".join("?" * len(rooms)) + ")"
        return {r[0]: r[1] for r in self._conn().execute(sql, rooms)}

    async def close(self) -> None:
        await self._readers.close()


class PostgresConnectReads:
    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._session_sql = _SESSION.format("$1", "$2", "false")
        self._cursors_sql = _CURSORS.format("$1")

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        with as_unavailable():
            async with self._engine.connect() as sa_conn:
                raw = await sa_conn.get_raw_connection()
                conn: asyncpg.Connection = raw.driver_connection
                return await conn.fetch(sql, *args)

    async def session_user(self, token_hash: bytes, now: int) -> tuple[User, Session] | None:
        rows = await self._fetch(self._session_sql, token_hash, now)
        return _session(rows[0]) if rows else None

    async def joined_cursors(self, user_id: int) -> dict[int, tuple[int, int]]:
        return {r[0]: (r[1], r[2]) for r in await self._fetch(self._cursors_sql, user_id)}

    async def room_ends(self, rooms: list[int]) -> dict[int, int]:
        return {r[0]: r[1] for r in await self._fetch(_ENDS + "= ANY($1::bigint[])", rooms)}

    async def close(self) -> None:
        return None
