"""The blob store interface. Blobs are content-addressed: the key is the SHA-256 of the bytes (hex),
so identical files are stored once and a key never changes meaning. Whoever deletes a blob must know
that nothing refers to it any more (the services count references in the database).

Every blob has an age (a file's mtime, an object's LastModified): storing bytes that are stored
already makes the blob young again, so a sweep of old blobs nobody names (`keys_older_than`, used by
`Uploads.collect`) never takes one that an upload in progress is about to name."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

KEY = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Blob:
    key: str  # sha256 of the content, 64 lower-case hex digits
    size: int


class BlobError(Exception):
    """The store failed (unreachable, refused); the message says which store and why."""


def check_key(key: str) -> str:
    """Keys become file names and object names: only a sha256 in hex is one."""
    if not KEY.match(key):
        raise ValueError(f"not a blob key: {key[:80]!r}")
    return key


def file_sha256(path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class BlobStore(ABC):
    """`shared`: every node sees the same blobs (S3 always; a local folder only when declared so)."""

    shared: bool = False

    async def start(self) -> None:  # noqa: B027 - optional
        """Connect, create what is missing; raises BlobError with what to fix."""

    async def close(self) -> None:  # noqa: B027 - optional
        pass

    @abstractmethod
    async def put_stream(self, chunks: AsyncIterable[bytes]) -> Blob:
        """Store a stream of bytes; nothing is left behind if the stream raises or is cancelled."""

    @abstractmethod
    async def put_file(self, path: str, known: Blob | None = None) -> Blob:
        """Store a local file's bytes (the file itself is left where it is, for the caller to remove).
        `known`: its key and size, computed while it was written, saving a read of the file."""

    @abstractmethod
    def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes [start, end) of a blob (end None: to its end), in chunks. KeyError when absent."""

    @abstractmethod
    async def size(self, key: str) -> int | None:
        """The blob's size, None when it does not exist."""

    async def exists(self, key: str) -> bool:
        return await self.size(key) is not None

    @abstractmethod
    async def delete(self, key: str, *, older_than: float | None = None) -> bool:
        """Remove a blob; removing one that does not exist is not an error. `older_than` (epoch
        seconds): only if the blob is older than that (it was not stored again since it was listed).
        False when it was kept for being younger, or found absent."""

    @abstractmethod
    def keys_older_than(self, cutoff_epoch_s: float) -> AsyncIterator[str]:
        """The keys of the stored blobs last stored before `cutoff_epoch_s`, in no set order (never
        the temporary files of puts in progress)."""
