"""Uploads: receiving a file (streamed to a spool file, checked, processed, stored), who may fetch
it, the room's file list, avatars, and collecting what nothing uses any more."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from parley.blobs.base import Blob, BlobStore
from parley.core import permissions, uploads, wire
from parley.core.errors import Invalid, NotFound, PayloadTooLarge, RateLimited
from parley.core.models import User
from parley.core.ratelimit import Rate
from parley.core.uploads import Upload
from parley.services import media
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import rooms as room_store
from parley.store import uploads as store
from parley.store import users as user_store

log = logging.getLogger(__name__)
UNATTACHED_TTL_MS = 86_400_000
GC_EVERY_S = 3600.0
LIST_MAX = 100
ORPHAN_BATCH = 500  # blob keys checked against the database at once
NO_FILE = "no such file, or you may not see it"


@dataclass(frozen=True, slots=True)
class Collected:
    uploads: int  # uploads never attached, removed with the blobs only they named
    orphans: int  # old blobs no row names (stored just before a crash, before their row was committed)


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 25 * 1024 * 1024  # of the file itself
    quota_bytes: int = 1024 * 1024 * 1024  # per user, everything uploaded and not yet deleted
    rate: Rate = Rate(burst=20, per_second=0.2)
    spool: str = "var/media/tmp"  # a local folder for files being received


class Uploads:
    def __init__(self, deps: Deps, emitter: Emitter, blobs: BlobStore, limits: UploadLimits,
                 workers: media.MediaWorkers | None = None) -> None:
        self.deps, self.emitter, self.blobs, self.limits = deps, emitter, blobs, limits
        self.workers = workers or media.MediaWorkers()
        self._gc: asyncio.Task[None] | None = None

    async def start(self, *, collect: bool = True) -> None:
        await self.blobs.start()
        Path(self.limits.spool).mkdir(parents=True, exist_ok=True)
        from parley.blobs.local import sweep_temporary  # the spool is a local folder, whatever the store

        await asyncio.to_thread(sweep_temporary, Path(self.limits.spool))
        if collect:
            self._gc = asyncio.create_task(self._collect_loop())

    async def close(self) -> None:
        if self._gc is not None:
            self._gc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gc
        self.workers.close()
        await self.blobs.close()

    # -- receiving ----------------------------------------------------------------------------------

    async def check_poster(self, user: User, room_id: int) -> None:
        """Before a byte is read: the room exists for the user, who may post in it, and is not over
        the rate or the quota."""
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            permissions.require_poster(room, await room_store.membership(conn, room_id, user.id))
            used = await store.used_bytes(conn, user.id)
        if used >= self.limits.quota_bytes:
            raise _over_quota(self.limits.quota_bytes)
        wait = await self.deps.bus.hit(f"upload:{user.id}", self.limits.rate)
        if wait:
            raise RateLimited(f"uploading too fast; retry in {wait:.1f} s", wait)

    async def receive(self, user: User, room_id: int, name: object, chunks: AsyncIterable[bytes]) -> Upload:
        """Store one file sent in chunks. Nothing stays behind if the sender goes away, the file is
        too large, or anything fails: the spool file is removed, and the row (what makes a blob
        reachable) is written last."""
        clean = uploads.clean_name(name)
        spool = os.path.join(self.limits.spool, f"{os.getpid()}-{uuid.uuid4().hex}.part")
        made: list[str] = [spool]
        try:
            received, head = await self._spool(chunks, spool)
            if received.size == 0:
                raise Invalid("the file is empty")
            sniffed = uploads.sniff(head)
            done = await self.workers.run(media.process, spool, sniffed, uploads.media_kind(sniffed))
            made += done.made
            blob = await self.blobs.put_file(done.path, received if done.path == spool else None)
            thumb = await self.blobs.put_file(done.thumbnail) if done.thumbnail else None
            try:
                async with self.deps.db.write() as conn:
                    room = await room_store.get(conn, room_id)
                    permissions.require_poster(room, await room_store.membership(conn, room_id, user.id))
                    if await store.used_bytes(conn, user.id) + blob.size > self.limits.quota_bytes:
                        raise _over_quota(self.limits.quota_bytes)
                    row = await store.insert(
                        conn, room_id=room_id, uploader_id=user.id, name=clean, size=blob.size,
                        content_type=done.content_type, blob=blob.key, thumb=thumb.key if thumb else None,
                        width=done.width, height=done.height, duration_ms=done.duration_ms,
                        waveform=done.waveform, now=self.deps.clock())
            except BaseException:  # refused at the last moment: no row names the blobs, remove them
                await asyncio.shield(self.collect_blobs([blob.key, *([thumb.key] if thumb else [])]))
                raise
            # A collection that ran between the put and the commit may have removed an identical
            # blob nobody named then; the row names it now, so put it back.
            if not await self.blobs.exists(blob.key):
                await self.blobs.put_file(done.path)
            if done.thumbnail and thumb and not await self.blobs.exists(thumb.key):
                await self.blobs.put_file(done.thumbnail)
            return row
        finally:
            await asyncio.to_thread(_remove, made)

    async def _spool(self, chunks: AsyncIterable[bytes], path: str) -> tuple[Blob, bytes]:
        """Write the stream to a local file, refusing it as soon as it passes the limit. Returns
        its key and size (hashed on the way) and its first bytes (for the type)."""
        limit, size, head, digest = self.limits.max_bytes, 0, b"", hashlib.sha256()
        f = await asyncio.to_thread(open, path, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the file is larger than {_mib(limit)} (PARLEY_MAX_UPLOAD_BYTES)")
                if len(head) < uploads.SNIFF_BYTES:
                    head += chunk[: uploads.SNIFF_BYTES - len(head)]
                digest.update(chunk)
                await asyncio.to_thread(f.write, chunk)
        finally:
            await asyncio.to_thread(f.close)
        return Blob(digest.hexdigest(), size), head

    # -- reading ------------------------------------------------------------------------------------

    async def readable(self, user: User, upload_id: int) -> Upload:
        """The upload, if the user may fetch it: a joined member of its room, once it is attached to
        a message; before that, its uploader only. Anyone else: NotFound, as for rooms."""
        async with self.deps.db.read() as conn:
            row = await store.get(conn, upload_id)
            if row is None:
                raise NotFound(NO_FILE)
            membership = await room_store.membership(conn, row.room_id, user.id)
            room = await room_store.get(conn, row.room_id)
        try:
            permissions.require_reader(room, membership)
        except NotFound:
            raise NotFound(NO_FILE) from None
        if row.message_seq is None and row.uploader_id != user.id:
            raise NotFound(NO_FILE)
        return row

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        return self.blobs.open_range(key, start, end)

    async def of_room(self, user: User, room_id: int, before: int | None, limit: int) -> list[Upload]:
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            permissions.require_reader(room, await room_store.membership(conn, room_id, user.id))
            return await store.of_room(conn, room_id, before, max(1, min(limit, LIST_MAX)))

    # -- avatars ------------------------------------------------------------------------------------

    async def set_avatar(self, user: User, chunks: AsyncIterable[bytes] | None) -> User:
        """A new avatar from an image (cropped square), or none (`chunks` None). Tells everyone who
        shares a room with the user (`user_updated`)."""
        key = None
        if chunks is not None:
            wait = await self.deps.bus.hit(f"upload:{user.id}", self.limits.rate)
            if wait:
                raise RateLimited(f"uploading too fast; retry in {wait:.1f} s", wait)
            spool = os.path.join(self.limits.spool, f"{os.getpid()}-{uuid.uuid4().hex}.part")
            made = [spool]
            try:
                await self._spool(chunks, spool)
                square = await self.workers.run(media.avatar, spool)
                if square is None:
                    raise Invalid("the avatar must be a PNG, JPEG, GIF or WebP image")
                made.append(square)
                key = (await self.blobs.put_file(square)).key
            finally:
                await asyncio.to_thread(_remove, made)
        async with self.deps.db.write() as conn:
            old = await store.set_avatar(conn, user.id, key)
            found = await user_store.by_id(conn, user.id)
            recipients = await room_store.sharing(conn, user.id)
        assert found is not None
        if key is not None and not await self.blobs.exists(key):  # see receive()
            log.warning("avatar blob of user %s vanished; it will show as none", user.id)
        if old and old != key:
            await self.collect_blobs([old])
        await self.emitter.to_users(recipients, wire.UserUpdatedFrame(user=wire.public(found[0])))
        return found[0]

    async def avatar_of(self, user_id: int, key_prefix: str) -> str:
        async with self.deps.db.read() as conn:
            found = await user_store.by_id(conn, user_id)
        if found is None or not found[0].avatar or not found[0].avatar.startswith(key_prefix):
            raise NotFound("no such avatar")
        return found[0].avatar

    # -- collection ---------------------------------------------------------------------------------

    async def collect_blobs(self, keys: list[str]) -> int:
        """Delete the blobs among `keys` that no upload and no avatar names (call it after the
        commit that removed the rows). Returns how many were deleted."""
        async with self.deps.db.read() as conn:
            gone = await store.unreferenced(conn, keys)
        for key in gone:
            await self.blobs.delete(key)
        return len(gone)

    async def collect(self, now: int | None = None) -> Collected:
        """Remove uploads never attached to a message within a day, and their blobs; then the
        blobs older than a day that no row names (see `collect_orphans`)."""
        now = self.deps.clock() if now is None else now
        removed = 0
        while True:
            async with self.deps.db.write() as conn:
                count, keys = await store.delete_unattached(conn, now - UNATTACHED_TTL_MS)
            if not count:
                break
            removed += count
            await self.collect_blobs(keys)
        return Collected(removed, await self.collect_orphans((now - UNATTACHED_TTL_MS) / 1000))

    async def collect_orphans(self, cutoff_epoch_s: float) -> int:
        """Delete the blobs stored before `cutoff_epoch_s` that no upload and no avatar names: those
        written just before a crash, before the row naming them was committed. A blob an upload in
        progress is about to name is young (storing bytes again makes their blob young), and each
        is checked to still be old right before it goes. Returns how many were deleted."""
        removed, batch = 0, []
        async for key in self.blobs.keys_older_than(cutoff_epoch_s):
            batch.append(key)
            if len(batch) >= ORPHAN_BATCH:
                removed += await self._drop_orphans(batch, cutoff_epoch_s)
                batch = []
        if batch:
            removed += await self._drop_orphans(batch, cutoff_epoch_s)
        if removed:
            log.info("removed %d blob(s) no row named", removed)
        return removed

    async def _drop_orphans(self, keys: list[str], cutoff_epoch_s: float) -> int:
        async with self.deps.db.read() as conn:
            gone = await store.unreferenced(conn, keys)
        return sum([await self.blobs.delete(key, older_than=cutoff_epoch_s) for key in gone])

    async def _collect_loop(self) -> None:
        while True:
            await asyncio.sleep(GC_EVERY_S)
            try:
                await self.collect()
            except Exception:
                log.exception("collecting unattached uploads failed")


def _over_quota(quota: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"your uploads use your whole quota of {_mib(quota)}; delete some files first",
                           code="quota_exceeded")


def _mib(n: int) -> str:
    return f"{n / 1048576:g} MiB"


def _remove(paths: list[str]) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)
