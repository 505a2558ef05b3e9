"""Uploads and attachments through the real services, on SQLite and on PostgreSQL: the send batch's
hand-written attach path exists once per database."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.blobs.local import LocalBlobs
from parley.core.errors import Invalid, NotFound
from parley.store import uploads as upload_store
from parley.web.context import Context
from tests.contract.helpers import chunks, media_context, register


@pytest.fixture
async def ctx(database_url: str, tmp_path: Path) -> AsyncIterator[Context]:
    async with media_context(database_url, tmp_path) as context:
        yield context


_chunks = chunks


async def test_attach_once_in_a_batch_and_erase(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    room = await ctx.rooms.create(ann, "files", "", "public")
    await ctx.rooms.join(bob, room["id"])
    ups = [await ctx.uploads.receive(ann, room["id"], f"{i}.txt", _chunks(f"file {i}".encode())) for i in range(3)]
    theirs = await ctx.uploads.receive(bob, room["id"], "b.txt", _chunks(b"bob's"))
    # One batch: two messages race for ups[0]; one takes ups[1] and ups[2]; one names bob's file.
    results = await asyncio.gather(
        ctx.messages.send(ann, room["id"], "first", "c1", attachments=[ups[0].id]),
        ctx.messages.send(ann, room["id"], "", "c2", attachments=[ups[0].id]),
        ctx.messages.send(ann, room["id"], "pair", "c3", attachments=[ups[1].id, ups[2].id]),
        ctx.messages.send(ann, room["id"], "not mine", "c4", attachments=[theirs.id]),
        ctx.messages.send(ann, room["id"], "plain", "c5"),
        return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["tuple", "Invalid", "tuple", "Invalid", "tuple"]
    first, pair = results[0][0], results[2][0]
    assert [a["id"] for a in first.data["attachments"]] == [ups[0].id]
    assert [a["name"] for a in pair.data["attachments"]] == ["1.txt", "2.txt"]
    assert "attachments" not in results[4][0].data
    # A retry returns the original, attachments and all.
    again, created = await ctx.messages.send(ann, room["id"], "first", "c1", attachments=[ups[0].id])
    assert not created and again.data["attachments"] == first.data["attachments"]
    page = await ctx.messages.history(bob, room["id"])
    stored = {m["seq"]: m for m in page["messages"]}
    assert stored[first.seq]["attachments"] == first.data["attachments"]
    files = await ctx.uploads.of_room(bob, room["id"], None, 10)
    assert [f.id for f in files] == [ups[2].id, ups[1].id, ups[0].id]
    assert {f.message_seq for f in files} == {first.seq, pair.seq}
    assert (await ctx.uploads.readable(bob, ups[1].id)).blob == ups[1].blob
    with pytest.raises(NotFound):
        await ctx.uploads.readable(ann, theirs.id)  # not attached yet: its uploader's only

    # The hook for message deletes: rows go in the caller's transaction, blobs after the commit.
    async with ctx.db.write() as conn:
        keys = await upload_store.erase_message(conn, room["id"], pair.seq)
    assert await ctx.uploads.collect_blobs(keys) == 2
    assert not await ctx.uploads.blobs.exists(ups[1].blob)
    with pytest.raises(NotFound):
        await ctx.uploads.readable(bob, ups[1].id)


async def test_collect_removes_only_old_unattached_uploads(ctx: Context) -> None:
    (ann,) = await register(ctx, "ann")
    room = await ctx.rooms.create(ann, "gc", "", "public")
    kept = await ctx.uploads.receive(ann, room["id"], "kept.txt", _chunks(b"same bytes"))
    dropped = await ctx.uploads.receive(ann, room["id"], "dropped.txt", _chunks(b"same bytes"))
    fresh = await ctx.uploads.receive(ann, room["id"], "fresh.txt", _chunks(b"other bytes"))
    await ctx.messages.send(ann, room["id"], "", "k", attachments=[kept.id])
    assert (await ctx.uploads.collect(now=fresh.created_at + 1000)).uploads == 0
    assert (await ctx.uploads.collect(now=fresh.created_at + 86_400_001)).uploads == 2
    assert await ctx.uploads.blobs.exists(kept.blob)  # shared with the removed one: still named
    assert not await ctx.uploads.blobs.exists(fresh.blob)
    with pytest.raises(NotFound):
        await ctx.uploads.readable(ann, dropped.id)
    with pytest.raises(Invalid):
        await ctx.messages.send(ann, room["id"], "", "late", attachments=[fresh.id])


async def test_collect_sweeps_old_blobs_no_row_names(ctx: Context) -> None:
    """A blob stored just before a crash, before its row was committed: collected once a day old,
    never while young, and never one a row names however old."""
    (ann,) = await register(ctx, "ann")
    room = await ctx.rooms.create(ann, "orphans", "", "public")
    named = await ctx.uploads.receive(ann, room["id"], "named.txt", _chunks(b"a row names me"))
    waiting = await ctx.uploads.receive(ann, room["id"], "waiting.txt", _chunks(b"not sent yet"))
    await ctx.messages.send(ann, room["id"], "", "n", attachments=[named.id])
    orphan = await ctx.uploads.blobs.put_stream(_chunks(b"my row never came"))
    fresh = await ctx.uploads.blobs.put_stream(_chunks(b"an upload in progress"))
    blobs = ctx.uploads.blobs
    assert isinstance(blobs, LocalBlobs)
    two_days_ago = time.time() - 2 * 86_400
    for key in (named.blob, waiting.blob, orphan.key):
        os.utime(blobs.path(key), (two_days_ago, two_days_ago))
    done = await ctx.uploads.collect()
    assert (done.uploads, done.orphans) == (0, 1)
    assert not await blobs.exists(orphan.key)
    for key in (named.blob, waiting.blob, fresh.key):
        assert await blobs.exists(key)
    assert (await ctx.uploads.collect()).orphans == 0
