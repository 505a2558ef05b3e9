"""Uploads stream: a 500 MB file keeps the server's memory flat, and a server killed (-9) in the
middle of one leaves neither a half file nor a row pointing at nothing."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil

from tests.conftest import FAST_LIMITS, new_user
from tests.support.server import ServerProcess

BIG = 500 * 1024 * 1024
BOUNDARY = "streamboundary"


def _head(name: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()


async def _body(size: int, chunk: int = 1 << 20) -> AsyncIterator[bytes]:
    yield _head("big.bin")
    block = os.urandom(chunk)
    sent = 0
    while sent < size:
        piece = block[: min(chunk, size - sent)]
        sent += len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_500_mb_upload_keeps_memory_flat(tmp_path, http, names):
    env = {**FAST_LIMITS, "PARLEY_MAX_UPLOAD_BYTES": str(BIG), "PARLEY_UPLOAD_QUOTA_BYTES": str(2 * BIG)}
    server = ServerProcess(f"sqlite:///{tmp_path / 'parley.db'}", tmp_path, env=env).start()
    try:
        ann = await new_user(http, server.url, names("ann"))
        room = await ann.create_room(names("big"))
        proc = psutil.Process(server.proc.pid)
        baseline = proc.memory_info().rss
        peak = baseline
        sampling = True

        async def sample() -> None:
            nonlocal peak
            while sampling:
                peak = max(peak, proc.memory_info().rss)
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        async with http.post(f"{server.url}/api/v1/rooms/{room['id']}/uploads", data=_body(BIG),
                             headers={"Authorization": f"Bearer {ann.token}",
                                      "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}) as resp:
            answer = await resp.json()
        elapsed = time.monotonic() - started
        sampling = False
        await sampler
        assert resp.status == 201, answer
        assert answer["upload"]["size"] == BIG
        grew = (peak - baseline) / 1048576
        print(f"500 MB upload: {BIG / 1048576 / elapsed:.0f} MB/s, server RSS +{grew:.1f} MB")
        assert grew < 50, f"the server grew by {grew:.1f} MB while receiving 500 MB"
    finally:
        server.stop()


async def test_kill_9_during_an_upload_leaves_nothing_behind(tmp_path, http, names):
    env = {**FAST_LIMITS, "PARLEY_MAX_UPLOAD_BYTES": str(64 << 20)}
    db_url = f"sqlite:///{tmp_path / 'parley.db'}"
    server = ServerProcess(db_url, tmp_path, env=env).start()
    media_root = tmp_path / "var" / "media"
    try:
        ann = await new_user(http, server.url, names("ann"))
        room = await ann.create_room(names("killed"))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write((f"POST /api/v1/rooms/{room['id']}/uploads HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {ann.token}\r\n"
                      f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {32 << 20}\r\n\r\n"
                      ).encode() + _head("half.bin") + os.urandom(8 << 20))
        await writer.drain()
        for _ in range(200):
            if any(p.suffix == ".part" and p.stat().st_size > 0 for p in _files(media_root)):
                break
            await asyncio.sleep(0.05)
        assert [p for p in _files(media_root) if p.suffix == ".part"], "the upload never reached the spool"
        server.kill()
        writer.close()
        assert [p for p in _files(media_root) if p.suffix == ".part"]  # the half file the crash left
        server.start()
        assert _files(media_root) == []  # swept at start: no half file, no blob
        db = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        try:
            assert db.execute("SELECT count(*) FROM uploads").fetchone() == (0,)
            # Nor a message pointing at an upload.
            assert db.execute("SELECT count(*) FROM events WHERE data LIKE '%attachments%'").fetchone() == (0,)
        finally:
            db.close()
    finally:
        server.stop()
