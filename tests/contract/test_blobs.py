"""One contract for every blob store: a local folder and S3 (against moto's real S3 server)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.blobs import s3 as s3_blobs
from parley.blobs.base import Blob, BlobStore
from parley.blobs.local import LocalBlobs, sweep_temporary
from parley.blobs.s3 import PART, S3Blobs


@pytest.fixture(params=["local", "s3"])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        store: BlobStore = LocalBlobs(tmp_path / "media")
    else:
        store = S3Blobs(request.getfixturevalue("s3").url(f"parley-{uuid.uuid4().hex[:12]}"))
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def _stream(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


async def _read(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([c async for c in store.open_range(key, start, end)])


def _key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_put_stream_is_content_addressed_and_read_back(blobs: BlobStore) -> None:
    data = os.urandom(300_000)
    blob = await blobs.put_stream(_stream(data[:1000], data[1000:]))
    assert blob.key == _key(data) and blob.size == len(data)
    assert await blobs.exists(blob.key) and await blobs.size(blob.key) == len(data)
    assert await _read(blobs, blob.key) == data
    again = await blobs.put_stream(_stream(data))
    assert again == blob


async def test_ranges(blobs: BlobStore) -> None:
    data = bytes(range(256)) * 1000
    blob = await blobs.put_stream(_stream(data))
    for start, end in ((0, 1), (10, 5000), (255_000, None), (100, len(data))):
        assert await _read(blobs, blob.key, start, end) == data[start:end]


async def test_a_large_stream_goes_in_parts(blobs: BlobStore) -> None:
    data = os.urandom(PART * 2 + 12345)  # several parts of a multipart upload on S3
    chunks = [data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
    blob = await blobs.put_stream(_stream(*chunks))
    assert blob.key == _key(data) and await blobs.size(blob.key) == len(data)
    assert await _read(blobs, blob.key, PART - 5, PART + 5) == data[PART - 5:PART + 5]


async def test_put_file(blobs: BlobStore, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"file body" * 1000)
    blob = await blobs.put_file(str(path))
    assert path.exists() and blob.key == _key(path.read_bytes())
    assert await _read(blobs, blob.key) == path.read_bytes()
    assert await blobs.put_file(str(path)) == blob
    other = tmp_path / "g.bin"
    other.write_bytes(b"hashed while it was written")
    known = Blob(_key(other.read_bytes()), other.stat().st_size)
    assert await blobs.put_file(str(other), known) == known
    assert await _read(blobs, known.key) == other.read_bytes()


async def test_a_failed_stream_leaves_nothing(blobs: BlobStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(PART + 10)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await blobs.put_stream(broken())
    if isinstance(blobs, LocalBlobs):
        assert [p for p in blobs.root.rglob("*") if p.is_file()] == []
    else:
        assert isinstance(blobs, S3Blobs)
        listed = await blobs._client.list_objects_v2(Bucket=blobs.bucket)
        assert listed.get("KeyCount", 0) == 0
        pending = await blobs._client.list_multipart_uploads(Bucket=blobs.bucket)
        assert not pending.get("Uploads")


async def test_delete_and_missing(blobs: BlobStore) -> None:
    blob = await blobs.put_stream(_stream(b"short-lived"))
    await blobs.delete(blob.key)
    assert not await blobs.exists(blob.key) and await blobs.size(blob.key) is None
    await blobs.delete(blob.key)  # again: not an error
    with pytest.raises(KeyError):
        await _read(blobs, blob.key)


async def test_keys_are_only_hashes(blobs: BlobStore) -> None:
    for bad in ("../../etc/passwd", "A" * 64, "", "ab/cd"):
        with pytest.raises(ValueError):
            await blobs.size(bad)


async def test_concurrent_identical_puts_store_one(blobs: BlobStore) -> None:
    data = os.urandom(50_000)
    results = await asyncio.gather(*(blobs.put_stream(_stream(data)) for _ in range(5)))
    assert {r.key for r in results} == {_key(data)}
    assert await _read(blobs, _key(data)) == data


async def _older_than(store: BlobStore, cutoff: float) -> set[str]:
    return {k async for k in store.keys_older_than(cutoff)}


async def test_keys_older_than_lists_stored_blobs_only(blobs: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The listing the orphan sweep walks: every stored blob older than the cut-off, never a
    younger one nor a temporary file; a conditional delete keeps a blob stored again since."""
    keys = {(await blobs.put_stream(_stream(f"blob {i}".encode()))).key for i in range(3)}
    big = await blobs.put_stream(_stream(os.urandom(PART + 1)))  # through the temporary area on S3
    keys.add(big.key)
    if isinstance(blobs, LocalBlobs):
        (blobs.tmp / "1-stray.part").write_bytes(b"half a file")
        (blobs.root / "ab").mkdir(exist_ok=True)
        (blobs.root / "ab" / "not-a-key").write_bytes(b"x")
    else:
        assert isinstance(blobs, S3Blobs)
        await blobs._client.put_object(Bucket=blobs.bucket, Key="tmp/stray", Body=b"half a file")
    later, earlier = time.time() + 60, time.time() - 60
    assert await _older_than(blobs, later) == keys
    assert await _older_than(blobs, earlier) == set()
    victim, *_ = sorted(keys)
    assert not await blobs.delete(victim, older_than=earlier)  # younger than that: kept
    assert await blobs.exists(victim)
    assert await blobs.delete(victim, older_than=later)
    assert not await blobs.exists(victim) and await _older_than(blobs, later) == keys - {victim}
    assert not await blobs.delete(victim, older_than=later)  # gone already

    # Storing bytes that are there already makes their blob young again.
    again = sorted(keys - {victim})[0]
    if isinstance(blobs, LocalBlobs):
        os.utime(blobs.path(again), (1000, 1000))
        assert again in await _older_than(blobs, 2000)
    else:  # LastModified cannot be set back: make every blob count as old enough to be touched
        monkeypatch.setattr(s3_blobs, "TOUCH_AFTER_S", -1.0)
    before = await _read(blobs, again)
    assert (await blobs.put_stream(_stream(before))).key == again
    if isinstance(blobs, LocalBlobs):
        assert again not in await _older_than(blobs, 2000)
        os.utime(blobs.path(again), (1000, 1000))
        path = blobs.root / "again.bin"
        path.write_bytes(before)
        await blobs.put_file(str(path))
        assert again not in await _older_than(blobs, 2000)
    assert await _read(blobs, again) == before and again in await _older_than(blobs, time.time() + 60)


def test_sweep_removes_what_dead_processes_left(tmp_path: Path) -> None:
    (tmp_path / "999999999-x.part").write_bytes(b"half")  # no such pid
    (tmp_path / f"{os.getpid()}-y.part").write_bytes(b"mine, in flight")
    old = tmp_path / "1-z.part"
    old.write_bytes(b"old")
    os.utime(old, (1, 1))
    assert sweep_temporary(tmp_path, by_pid=False) == 1 and not old.exists()
    assert sweep_temporary(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"{os.getpid()}-y.part"]
