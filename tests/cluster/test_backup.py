"""The backup and restore procedures of docs/operations.md, run for real: an online SQLite backup
with the sqlite3 shell, and pg_dump / pg_restore of PostgreSQL into a fresh database."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.cluster.helpers import register
from tests.support.client import Api, Socket
from tests.support.cluster import PG_BIN, Node, PostgresCluster, port
from tests.support.server import FAST_LIMITS

SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"


async def _texts(api: Api, room: int) -> list[str]:
    page = await api.history(room, limit=100)
    return [m["text"] for m in page["messages"] if m["type"] == "message"]


async def _restored_cursor(http: aiohttp.ClientSession, base: str, token: str, room: int, cursor: int) -> int:
    """A client that saw more than the backup holds resumes, and is pulled back to the room's end."""
    sock = await Socket.open(http, base, token)
    await sock.send({"type": "resume", "cursors": {str(room): cursor}})
    resumed = await sock.wait_for(lambda f: f["type"] == "resumed")
    await sock.close()
    return resumed["cursors"][str(room)]


def _node(url: str, workdir: Path) -> Node:
    return Node(url, workdir, env={**FAST_LIMITS, "PARLEY_BROKER_URL": "memory://"}, port=port())


async def test_sqlite_online_backup_and_restore(tmp_path, http):
    if not Path(SQLITE3).exists():
        pytest.fail("the sqlite3 shell is missing (Debian: sqlite3)", pytrace=False)
    db = tmp_path / "parley.db"
    url = f"sqlite:///{db}"
    subprocess.run([sys.executable, "-m", "parley", "db", "upgrade", "--database-url", url], check=True,
                   capture_output=True, cwd=tmp_path)
    node = _node(url, tmp_path).start()
    try:
        ann = await register(http, node.url)
        room = (await ann.create_room("kept"))["id"]
        for n in range(20):
            await ann.send(room, f"before {n}")
        # Online: the node keeps serving while the shell copies a consistent snapshot.
        backup = tmp_path / "parley-backup.db"
        subprocess.run([SQLITE3, str(db), f".backup '{backup}'"], check=True, capture_output=True, timeout=60)
        for n in range(5):
            await ann.send(room, f"after {n}")
        last = (await ann.history(room))["last_seq"]
    finally:
        node.stop()
    check = subprocess.run([SQLITE3, str(backup), "PRAGMA integrity_check;"], capture_output=True, text=True)
    assert check.stdout.strip() == "ok"

    # Restore: the node is stopped; the backup replaces the file and its WAL leftovers.
    for leftover in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copy(backup, db)
    node = _node(url, tmp_path).start()
    try:
        ann = Api(http, node.url, ann.token)
        assert await _texts(ann, room) == [f"before {n}" for n in range(20)]
        restored_last = (await ann.history(room))["last_seq"]
        assert restored_last == last - 5
        assert await _restored_cursor(http, node.url, ann.token, room, last) == restored_last
        ack = await ann.send(room, "life goes on")
        assert ack["seq"] == restored_last + 1
    finally:
        node.stop()


@pytest.fixture
def pg() -> Iterator[PostgresCluster]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"{PG_BIN / 'initdb'} is missing: install postgresql-15", pytrace=False)
    cluster = PostgresCluster()
    try:
        cluster.init().start()
        cluster.create_database()
        yield cluster
    finally:
        cluster.destroy()


async def test_postgresql_dump_and_restore(pg, tmp_path, http):
    subprocess.run([sys.executable, "-m", "parley", "db", "upgrade", "--database-url", pg.url], check=True,
                   capture_output=True, cwd=tmp_path)
    node = _node(pg.url, tmp_path).start()
    conn = ["-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres"]
    dump = tmp_path / "parley.dump"
    try:
        ann = await register(http, node.url)
        ann_id = ann.user["id"]
        room = (await ann.create_room("kept"))["id"]
        for n in range(20):
            await ann.send(room, f"before {n}")
        # Online, consistent (one snapshot), in the compressed custom format.
        subprocess.run([str(PG_BIN / "pg_dump"), *conn, "-Fc", "-d", "parley", "-f", str(dump)], check=True,
                       capture_output=True, timeout=60)
        for n in range(5):
            await ann.send(room, f"after {n}")
        last = (await ann.history(room))["last_seq"]
    finally:
        node.stop()

    # Restore into a new, empty database; the nodes are pointed at it.
    subprocess.run([str(PG_BIN / "createdb"), *conn, "parley_restored"], check=True, capture_output=True)
    subprocess.run([str(PG_BIN / "pg_restore"), *conn, "-d", "parley_restored", "--no-owner", "--exit-on-error",
                    str(dump)], check=True, capture_output=True, timeout=60)
    restored_url = pg.url.rsplit("/", 1)[0] + "/parley_restored"
    node = _node(restored_url, tmp_path).start()
    try:
        ann = Api(http, node.url, ann.token)  # sessions are in the database too
        assert await _texts(ann, room) == [f"before {n}" for n in range(20)]
        restored_last = (await ann.history(room))["last_seq"]
        assert restored_last == last - 5
        assert await _restored_cursor(http, node.url, ann.token, room, last) == restored_last
        ack = await ann.send(room, "life goes on")
        assert ack["seq"] == restored_last + 1
        # Identity sequences come back too: new rows get fresh ids.
        other = await register(http, node.url)
        assert other.user["id"] > ann_id
    finally:
        node.stop()
