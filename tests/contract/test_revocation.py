"""Revoked sessions: logged durably for every node, and unable to send once the revocation committed."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from parley.core.errors import Unauthorized
from parley.core.models import Session, User
from parley.store import users as user_store
from parley.web.context import Context
from tests.contract.helpers import PASSWORD, log_rows

NEW_PASSWORD = "second-Lantern-8-quay"


async def _login(ctx: Context, name: str) -> tuple[User, Session]:
    _, token = await ctx.accounts.register(name, PASSWORD)
    return await ctx.accounts.authenticate(token)


async def _room(ctx: Context, owner: User, *others: User) -> int:
    rid = (await ctx.rooms.create(owner, "revocations"))["id"]
    for user in others:
        await ctx.rooms.join(user, rid)
    return rid


async def test_a_batch_stores_nothing_from_a_revoked_session(ctx: Context) -> None:
    (ann, ann_session), (bob, bob_session) = await _login(ctx, "ann"), await _login(ctx, "bob")
    rid = await _room(ctx, ann, bob)
    await ctx.accounts.logout(bob_session)
    # Both sends share one batch: the revoked one is refused, the other is stored.
    results = await asyncio.gather(ctx.messages.send(ann, rid, "kept", "k", session_id=ann_session.id),
                                   ctx.messages.send(bob, rid, "refused", "r", session_id=bob_session.id),
                                   return_exceptions=True)
    assert isinstance(results[0], tuple) and results[0][1] is True
    assert isinstance(results[1], Unauthorized)
    assert [r.text for r in await log_rows(ctx, rid) if r.type == "message"] == ["kept"]


async def _lock_waiters(ctx: Context) -> int:
    async with ctx.db.read() as conn:
        return int(await conn.scalar(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")))


async def test_a_send_racing_a_revocation_is_refused_once_the_revocation_commits(ctx: Context) -> None:
    (ann, _), (bob, bob_session) = await _login(ctx, "ann"), await _login(ctx, "bob")
    rid = await _room(ctx, ann, bob)
    async with ctx.db.write() as conn:
        await user_store.delete_session(conn, bob_session.id)  # the revocation, not yet committed
        send = asyncio.ensure_future(ctx.messages.send(bob, rid, "racing", "race", session_id=bob_session.id))
        if ctx.db.sqlite:
            await asyncio.sleep(0.3)  # the batch waits for the write lock whenever it starts
        else:
            # The batch must read the session while the DELETE is uncommitted, and wait for it.
            for _ in range(200):
                if send.done() or await _lock_waiters(ctx):
                    break
                await asyncio.sleep(0.05)
        assert not send.done(), "the batch did not wait for the uncommitted revocation"
    with pytest.raises(Unauthorized):
        await send
    assert [r.text for r in await log_rows(ctx, rid) if r.type == "message"] == []


async def test_every_revocation_is_logged_for_other_processes(ctx: Context) -> None:
    head = await ctx.presence.revocation_head()
    user, session = await _login(ctx, "cat")
    await ctx.accounts.logout(session)
    _, token = await ctx.accounts.login("cat", PASSWORD)
    await ctx.accounts.change_password(user, PASSWORD, NEW_PASSWORD)
    await ctx.accounts.disable("cat")
    found = await ctx.presence.revocations_after(head)
    assert [(u, s) for _, u, s in found] == [(user.id, session.id), (user.id, 0), (user.id, 0)]
    assert [i for i, _, _ in found] == sorted(i for i, _, _ in found) and found[0][0] > head
    assert await ctx.presence.revocations_after(found[-1][0]) == []

    # Pruned rows never hand their ids out again: a node that saw them must see the next one.
    last = found[-1][0]
    async with ctx.db.write() as conn:
        await user_store.prune_revocations(conn, before=ctx.accounts.deps.clock() + 1)
    assert await ctx.presence.revocations_after(head) == []
    dan, dan_session = await _login(ctx, "dan")
    await ctx.accounts.logout(dan_session)
    assert [(u, s) for i, u, s in await ctx.presence.revocations_after(last)] == [(dan.id, dan_session.id)]
