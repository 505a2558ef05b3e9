"""Customer service (issue 12) on SQLite and PostgreSQL: a visitor's conversation, the assistant's
answer or hand-over, two agents racing to take one conversation (one wins), the guest rate limit,
and the shapes the wire structs (and so the OpenAPI schemas) describe."""

from __future__ import annotations

import asyncio

import msgspec

from parley.core import wire
from parley.core.models import User
from parley.web.context import Context
from tests.contract.helpers import outcome, register


async def _desk(ctx: Context, owner: User, *agents: User) -> int:
    rid = (await ctx.rooms.create(owner, "helpdesk", "", "private"))["id"]
    for agent in agents:
        await ctx.rooms.invite(owner, rid, [agent.username])
        await ctx.rooms.join(agent, rid)
    await ctx.support.enable(owner, rid)
    await ctx.support.add_entry(owner, rid, "How do I reset my password?", "Settings, then Security.", "account")
    await ctx.support.add_entry(owner, rid, "如何申请退款？", "在订单页面申请退款。", "")
    return rid


async def _answered(ctx: Context) -> None:
    """Every answer the assistant started is posted: a barrier, not a sleep."""
    while ctx.support._tasks:
        await asyncio.gather(*ctx.support._tasks)


async def _texts(ctx: Context, user: User, room: int) -> list[str]:
    page = await ctx.messages.history(user, room, limit=100)
    return [m["text"] for m in page["messages"] if m["type"] == "message"]


async def test_a_visitor_is_answered_then_one_of_two_racing_agents_takes_over(ctx: Context) -> None:
    own, ann, bob, eve = await register(ctx, "own", "ann", "bob", "eve")
    rid = await _desk(ctx, own, ann, bob)
    started = await ctx.support.start(rid, "192.0.2.1")
    conv = started["conversation"]
    msgspec.convert(conv, wire.SupportConversation)
    guest, _session = await ctx.accounts.authenticate(started["token"])
    assert await ctx.support.is_guest(guest.id) and not await ctx.support.is_guest(ann.id)
    assert [u.id for u in await ctx.accounts.search("guest-", 50)] == []  # visitors are nobody's to find
    assert [u.id for u in await ctx.accounts.search("ann", 50)] == [ann.id]

    await ctx.support.ask(guest, "I forgot my PASSWORD, how to reset it?", "q1", _session.id)
    await _answered(ctx)
    await ctx.support.ask(guest, "退款", "q2", _session.id)
    await _answered(ctx)
    texts = await _texts(ctx, guest, conv["room"])
    answers = [m for m in (await ctx.messages.history(guest, conv["room"]))["messages"]
               if m["type"] == "message" and m["sender"]["id"] != guest.id]
    assert answers and all(m["sender"].get("bot") is True for m in answers)  # the assistant shows as a bot
    assert texts[1].startswith("Settings, then Security.") and "How do I reset my password?" in texts[1]
    assert texts[3].startswith("在订单页面申请退款。")
    retry = await ctx.support.ask(guest, "I forgot my PASSWORD, how to reset it?", "q1", _session.id)
    assert retry["created"] is False  # idempotent: stored once, answered once

    await ctx.support.ask(guest, "Where is my parcel?", "q3", _session.id)
    await _answered(ctx)
    assert "A person from our team" in (await _texts(ctx, guest, conv["room"]))[-1]
    queue = (await ctx.support.queue(ann, rid, ("waiting",)))["conversations"]
    assert [c["id"] for c in queue] == [conv["id"]] and queue[0]["last_text"] == "Where is my parcel?"

    results = await asyncio.gather(outcome(ctx.support.take(ann, conv["id"])), outcome(ctx.support.take(bob, conv["id"])))
    assert sorted(results) == ["conflict", "ok"]
    winner = ann if results[0] == "ok" else bob
    loser = bob if winner is ann else ann
    assert "Where is my parcel?" in await _texts(ctx, winner, conv["room"])  # the transcript
    assert await outcome(ctx.messages.history(loser, conv["room"])) == "not_found"
    await ctx.messages.send(winner, conv["room"], "Let me look.")
    await ctx.support.ask(guest, "thanks", "q4", _session.id)
    await _answered(ctx)
    assert (await _texts(ctx, guest, conv["room"]))[-2:] == ["Let me look.", "thanks"]  # the assistant keeps quiet

    resolved = await ctx.support.resolve(winner, conv["id"])
    assert resolved["conversation"]["state"] == "resolved"
    assert await outcome(ctx.support.resolve(winner, conv["id"])) == "conflict"
    # Not an agent of this desk: as if it did not exist.
    assert await outcome(ctx.support.take(eve, conv["id"])) == "not_found"
    assert await outcome(ctx.support.queue(eve, rid, ("waiting",))) == "not_found"
    assert await outcome(ctx.support.mine(eve)) == "not_found"
    # Nobody draws a visitor into another room: no direct chat, no invitation.
    assert await outcome(ctx.rooms.direct(eve, [guest.username])) == "invalid"
    assert await outcome(ctx.rooms.invite(own, rid, [guest.username])) == "invalid"


async def test_guests_are_rate_limited_per_address_and_only_admins_keep_the_knowledge_base(ctx: Context) -> None:
    own, ann = await register(ctx, "own", "ann")
    rid = await _desk(ctx, own, ann)
    for _ in range(5):
        await ctx.support.start(rid, "198.51.100.7")
    assert await outcome(ctx.support.start(rid, "198.51.100.7")) == "rate_limited"
    assert await outcome(ctx.support.start(rid, "198.51.100.8")) == "ok"
    assert await outcome(ctx.support.add_entry(ann, rid, "t", "a", "")) == "forbidden"
    assert await outcome(ctx.support.add_entry(own, rid, "t", "", "")) == "invalid"
    assert await outcome(ctx.support.enable(ann, rid)) == "forbidden"
    other = (await ctx.rooms.create(own, "not a desk"))["id"]
    assert await outcome(ctx.support.start(other, "203.0.113.1")) == "not_found"
    assert len((await ctx.support.entries(ann, rid))["entries"]) == 2
