"""Deleting an account (its messages kept or erased) and per-room retention, through the real
services on SQLite and PostgreSQL. Time is moved by handing the sweep its `now`, never by sleeping."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from parley.core.errors import Unauthorized
from parley.core.models import EventType, User
from parley.core.privacy import DAY_MS, DELETED_DISPLAY_NAME, DeletedMessages
from parley.web.context import Context
from tests.contract.helpers import (
    PASSWORD,
    chunks,
    log_rows,
    media_context,
    outcome,
    register,
    whole_history,
)


@pytest.fixture(params=["keep", "erase"])
async def ctx(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> AsyncIterator[Context]:
    async with media_context(database_url, tmp_path, deleted_account_messages=request.param) as context:
        yield context


_chunks = chunks


def _by_seq(history: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {m["seq"]: m for m in history}


async def _types(ctx: Context, room_id: int) -> list[str]:
    return [r.type for r in await log_rows(ctx, room_id)]


async def test_delete_account(ctx: Context) -> None:
    erase = ctx.privacy.deleted_messages is DeletedMessages.ERASE
    ann, bob, cy = await register(ctx, "ann", "bob", "cyd")
    _, token = await ctx.accounts.login("ann", PASSWORD)
    room = await ctx.rooms.create(ann, "lobby")
    rid = room["id"]
    solo = (await ctx.rooms.create(ann, "solo"))["id"]  # a last owner alone leaves an empty room
    await ctx.rooms.join(bob, rid)
    await ctx.rooms.join(cy, rid)
    await ctx.rooms.set_role(ann, rid, cy.id, "admin")  # the admin outranks bob, who joined before
    upload = await ctx.uploads.receive(ann, rid, "notes.txt", _chunks(b"ann's own file"))
    said, _ = await ctx.messages.send(ann, rid, "periwinkle harbour", "a1")
    filed, _ = await ctx.messages.send(ann, rid, "", "a2", attachments=[upload.id])
    theirs, _ = await ctx.messages.send(bob, rid, "bob speaks", "b1", reply_to=said.seq)
    await ctx.actions.react(ann, rid, theirs.seq, "👍")
    await ctx.actions.react(bob, rid, said.seq, "🎉")
    blob = upload.blob
    assert await ctx.uploads.blobs.exists(blob)

    assert await outcome(ctx.privacy.delete_account(ann, "not the password")) == "forbidden"
    assert (await ctx.accounts.authenticate(token))[0].id == ann.id  # nothing changed
    assert len(await ctx.rooms.members(bob, rid)) == 3
    await ctx.privacy.delete_account(ann, PASSWORD)

    with pytest.raises(Unauthorized):
        await ctx.accounts.authenticate(token)
    with pytest.raises(Unauthorized):
        await ctx.accounts.login("ann", PASSWORD)
    assert not await ctx.uploads.blobs.exists(blob)  # the file is erased
    # the name is free again, and a newcomer who takes it is someone else
    newcomer, = await register(ctx, "ann")
    assert newcomer.id != ann.id

    history = _by_seq(await whole_history(ctx, bob, rid))
    ghost = history[said.seq]["sender"]
    assert ghost["id"] == ann.id and ghost["display_name"] == DELETED_DISPLAY_NAME
    assert ghost["username"].startswith("deleted-") and ghost["avatar_url"] is None
    assert "attachments" not in history[filed.seq] and history[filed.seq]["deleted"]  # nothing left of it
    assert [r["emoji"] for r in history[theirs.seq].get("reactions", [])] == []  # ann's reaction went
    if erase:
        assert history[said.seq]["deleted"] and history[said.seq]["text"] == ""
        assert "reactions" not in history[said.seq]
    else:
        assert history[said.seq]["text"] == "periwinkle harbour" and not history[said.seq].get("deleted")
    found = (await ctx.search.search(bob, "periwinkle"))["hits"]
    if erase:
        assert found == []
    else:
        assert [(h["seq"], h["message"]["sender"]["display_name"]) for h in found] == [(said.seq, DELETED_DISPLAY_NAME)]

    assert (await _types(ctx, solo))[-1] == "member_left"
    types = await _types(ctx, rid)
    assert types.count("member_left") == 1 and types.count("reaction_removed") == 1
    assert types.count("message_deleted") == (2 if erase else 1)  # the file-only message goes either way
    members = {m["user"]["id"]: m["role"] for m in await ctx.rooms.members(bob, rid)}
    assert members == {bob.id: "member", cy.id: "owner"}  # the admin took the room over
    assert await outcome(ctx.privacy.delete_account(ann, PASSWORD)) in ("forbidden", "unauthorized")


# -- retention ---------------------------------------------------------------------------------------


@pytest.fixture
async def plain(database_url: str, tmp_path: Path) -> AsyncIterator[Context]:
    async with media_context(database_url, tmp_path, retention_days=30) as context:
        yield context


async def _room(ctx: Context, owner: User, member: User, name: str) -> int:
    rid = (await ctx.rooms.create(owner, name))["id"]
    await ctx.rooms.join(member, rid)
    return int(rid)


async def test_retention_erases_old_messages_in_place(plain: Context) -> None:
    ctx = plain
    ann, bob = await register(ctx, "ann", "bob")
    rid = await _room(ctx, ann, bob, "short")
    kept_forever = await _room(ctx, ann, bob, "archive")
    by_default = await _room(ctx, ann, bob, "default")
    assert await outcome(ctx.rooms.update(bob, rid, {"retention_days": 1})) == "forbidden"
    assert await outcome(ctx.rooms.update(ann, rid, {"retention_days": -1})) == "invalid"
    view = await ctx.rooms.update(ann, rid, {"retention_days": 1})
    assert view["retention_days"] == 1
    await ctx.rooms.update(ann, kept_forever, {"retention_days": 0})
    upload = await ctx.uploads.receive(ann, rid, "old.txt", _chunks(b"old file"))
    old = [(await ctx.messages.send(ann, r, f"tangerine {r}", f"o{r}"))[0] for r in (rid, kept_forever, by_default)]
    filed, _ = await ctx.messages.send(ann, rid, "with a file", "f", attachments=[upload.id])
    await ctx.actions.react(bob, rid, old[0].seq, "👍")
    await ctx.actions.edit(ann, rid, old[0].seq, "tangerine edited")
    await ctx.actions.pin(ann, rid, old[0].seq)
    sent_at = filed.ts

    # two days on: only the one-day room has anything past its retention
    first = await ctx.privacy.sweep(now=sent_at + 2 * DAY_MS)
    assert set(first) == {rid}
    ctx.messages.deps = dataclasses.replace(ctx.messages.deps, clock=lambda: sent_at + 2 * DAY_MS)
    newer, _ = await ctx.messages.send(bob, rid, "tangerine fresh", "n")
    history = _by_seq(await whole_history(ctx, bob, rid))
    for seq in (old[0].seq, filed.seq):
        assert history[seq]["deleted"] and history[seq]["text"] == "" and "reactions" not in history[seq]
        assert "attachments" not in history[seq] and not history[seq].get("pinned")
    assert history[newer.seq]["text"] == "tangerine fresh"
    assert [m["seq"] for m in history.values()] == list(range(1, newer.seq + 1))  # seq stays gap-free
    purge = [m for m in history.values() if m["type"] == EventType.HISTORY_PURGED]
    assert len(purge) == 1 and purge[0]["before_seq"] > filed.seq and purge[0]["sender"] is None
    assert (await ctx.actions.versions(bob, rid, old[0].seq))["versions"] == []
    assert not await ctx.uploads.blobs.exists(upload.blob)
    assert [r["room"] for r in (await ctx.search.search(bob, "tangerine"))["hits"]] == [
        rid, by_default, kept_forever]

    # the sweep is idempotent: again at the same time, nothing happens
    assert await ctx.privacy.sweep(now=sent_at + 2 * DAY_MS) == {}
    assert (await _types(ctx, rid)).count("history_purged") == 1
    # past the server default (30 days): the default room too, never the one kept forever
    later = await ctx.privacy.sweep(now=sent_at + 31 * DAY_MS)
    assert set(later) == {by_default, rid}  # rid: the message sent two days on is a day old by now
    assert not _by_seq(await whole_history(ctx, bob, kept_forever))[old[1].seq].get("deleted")
    assert _by_seq(await whole_history(ctx, bob, by_default))[old[2].seq]["deleted"]
    updated = [e for e in await whole_history(ctx, bob, rid) if e["type"] == "room_updated"]
    assert updated[0]["changes"] == {"retention_days": 1}
