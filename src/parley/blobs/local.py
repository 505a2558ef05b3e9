"""Blobs in a local folder: `<root>/ab/cd/<sha256>`, written to `<root>/tmp/` first and renamed into
place (atomic: a crash leaves at most a temporary file, swept at start), fsynced before the rename."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

from parley.blobs.base import CHUNK, KEY, Blob, BlobStore, check_key, file_sha256

STALE_TMP_S = 3600


class LocalBlobs(BlobStore):
    def __init__(self, root: str | Path, *, shared: bool = False) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.shared = shared

    async def start(self) -> None:
        await asyncio.to_thread(self._start)

    def _start(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        sweep_temporary(self.tmp, by_pid=not self.shared)

    def path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def _temp(self) -> Path:
        return self.tmp / f"{os.getpid()}-{uuid.uuid4().hex}.part"

    async def put_stream(self, chunks: AsyncIterable[bytes]) -> Blob:
        temp = self._temp()
        digest, size = hashlib.sha256(), 0
        f = await asyncio.to_thread(open, temp, "wb")
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                await asyncio.to_thread(f.write, chunk)
            await asyncio.to_thread(_sync_close, f)
            key = digest.hexdigest()
            await asyncio.to_thread(self._place, temp, key)
        except BaseException:
            f.close()
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        return Blob(key, size)

    async def put_file(self, path: str, known: Blob | None = None) -> Blob:
        return await asyncio.to_thread(self._put_file, path, known)

    def _put_file(self, path: str, known: Blob | None) -> Blob:
        key, size = (known.key, known.size) if known else file_sha256(path)
        if _touch(self.path(key)):
            return Blob(key, size)
        temp = self._temp()
        try:
            shutil.copyfile(path, temp)
            with open(temp, "rb+") as f:
                os.fsync(f.fileno())
            self._place(temp, key)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        return Blob(key, size)

    def _place(self, temp: Path, key: str) -> None:
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        if _touch(final):  # stored already: identical bytes, keep the one there (young again)
            temp.unlink()
            return
        os.replace(temp, final)
        _fsync_dir(final.parent)

    async def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self.path(key)
        try:
            f = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise KeyError(key) from None
        try:
            await asyncio.to_thread(f.seek, start)
            left = None if end is None else max(0, end - start)
            while left is None or left > 0:
                chunk = await asyncio.to_thread(f.read, CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            f.close()

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str, *, older_than: float | None = None) -> bool:
        return await asyncio.to_thread(self._delete, self.path(key), older_than)

    @staticmethod
    def _delete(path: Path, older_than: float | None) -> bool:
        try:
            if older_than is not None and path.stat().st_mtime >= older_than:
                return False
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    async def keys_older_than(self, cutoff_epoch_s: float) -> AsyncIterator[str]:
        # One two-level folder at a time, so a large store is never listed whole in memory.
        for top in await asyncio.to_thread(_subfolders, self.root):
            for sub in await asyncio.to_thread(_subfolders, top):
                for key in await asyncio.to_thread(_old_keys, sub, cutoff_epoch_s):
                    yield key


def _sync_close(f: object) -> None:
    f.flush()  # type: ignore[attr-defined]
    os.fsync(f.fileno())  # type: ignore[attr-defined]
    f.close()  # type: ignore[attr-defined]


def _touch(path: Path) -> bool:
    """Make a stored blob young again; False when it is not there."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def _subfolders(folder: Path) -> list[Path]:
    """The `ab/` (then `cd/`) levels of the layout; `tmp/` and anything else is not a blob folder."""
    try:
        return sorted(e for e in folder.iterdir() if len(e.name) == 2 and e.name == e.name.lower()
                      and all(c in "0123456789abcdef" for c in e.name) and e.is_dir())
    except FileNotFoundError:
        return []


def _old_keys(folder: Path, cutoff: float) -> list[str]:
    keys = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not KEY.match(entry.name) or not entry.name.startswith(folder.parent.name + folder.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                keys.append(entry.name)
        except FileNotFoundError:
            continue
    return keys


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def process_alive(pid: int) -> bool:
    """Whether a process of this machine with that pid is running (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_temporary(folder: Path, now: float | None = None, *, by_pid: bool = True) -> int:
    """Remove the `.part` files a killed process left: those of a process no longer running on this
    machine (`by_pid`: not on a shared folder, where pids are other machines'), and any older than
    an hour. Returns how many."""
    now = time.time() if now is None else now
    removed = 0
    for entry in folder.glob("*.part"):
        pid_text = entry.name.split("-", 1)[0]
        try:
            stale = now - entry.stat().st_mtime > STALE_TMP_S
            dead = by_pid and pid_text.isdigit() and int(pid_text) != os.getpid() and not process_alive(int(pid_text))
            if stale or dead:
                entry.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
