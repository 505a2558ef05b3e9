"""The connect reads (store/connect.py) asked for all at once, as in a reconnect storm: each caller
gets its own answer, a revoked or unknown token is refused alone, and on SQLite the reads of one
turn of the event loop share one job on the reader pool."""

from __future__ import annotations

import asyncio

import pytest

from parley.core.errors import Unauthorized
from parley.store.connect import SqliteConnectReads
from parley.web.context import Context
from tests.contract.helpers import PASSWORD


async def _people(ctx: Context, n: int) -> list[tuple[object, str, int]]:
    out = []
    for i in range(n):
        user, token = await ctx.accounts.register(f"storm_{i}", PASSWORD)
        room = (await ctx.rooms.create(user, f"storm-{i}"))["id"]
        out.append((user, token, room))
    return out


async def test_reads_asked_for_at_once_each_get_their_own_answer(ctx: Context) -> None:
    people = await _people(ctx, 6)
    revoked_user, revoked_token, _ = people[2]
    _, session = await ctx.accounts.authenticate(revoked_token)
    await ctx.accounts.logout(session)
    tokens = [token for _, token, _ in people] + ["no-such-token"]
    found = await asyncio.gather(*(ctx.accounts.authenticate(t) for t in tokens), return_exceptions=True)
    cursors = await asyncio.gather(*(ctx.db.connects.joined_cursors(user.id) for user, _, _ in people))
    for i, (user, _, room) in enumerate(people):
        if user is revoked_user:
            assert isinstance(found[i], Unauthorized)
        else:
            assert found[i][0].id == user.id
        assert list(cursors[i]) == [room]
    assert isinstance(found[-1], Unauthorized)


async def test_sqlite_reads_of_one_turn_share_one_job(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = ctx.db.connects
    if not isinstance(reads, SqliteConnectReads):
        return  # PostgreSQL reads go to asyncpg directly, with no thread hop to share
    people = await _people(ctx, 3)
    jobs = 0
    submit = reads._readers.pool.submit

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal jobs
        jobs += 1
        return submit(*args, **kwargs)

    monkeypatch.setattr(reads._readers.pool, "submit", counted)
    found = await asyncio.gather(*(ctx.accounts.authenticate(token) for _, token, _ in people * 10))
    assert [user.id for user, _ in found] == [user.id for user, _, _ in people * 10]
    assert jobs == 1


async def test_room_ends_are_the_committed_last_seqs(ctx: Context) -> None:
    people = await _people(ctx, 2)
    (user, _, first), (_, _, second) = people
    sent, _ = await ctx.messages.send(user, first, "one")
    ends = await asyncio.gather(ctx.presence.last_seqs([first, second, 10_000]), ctx.presence.last_seqs([second]))
    assert ends[0][first] == sent.seq
    assert set(ends[0]) == {first, second}  # a room that does not exist has no end
    assert ends[1] == {second: ends[0][second]}
