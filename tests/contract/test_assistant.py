"""The assistant in any room and in direct chats (issue 12) on SQLite and PostgreSQL: room admins add
the server's own bot, it answers a mention from the knowledge bases the asker may read (citing the
entry, replying to the question), every message of a direct chat, never itself or another bot, and
once when two nodes run the dispatcher."""

from __future__ import annotations

import asyncio

from parley.core.models import User
from parley.web.context import Context
from tests.contract.helpers import close_context, open_context, outcome, register


async def _heard(*contexts: Context) -> None:
    """Every node's dispatcher has matched what is committed, and every answer started is posted: a
    barrier, not a sleep."""
    busy = True
    while busy:
        busy = False
        for ctx in contexts:
            while await ctx.bots.match_once():
                busy = True
        for ctx in contexts:
            while ctx.support._tasks:
                busy = True
                await asyncio.gather(*ctx.support._tasks)


async def _messages(ctx: Context, user: User, room: int) -> list[dict]:
    page = await ctx.messages.history(user, room, limit=100)
    return [m for m in page["messages"] if m["type"] == "message"]


async def _desk(ctx: Context, owner: User, visibility: str, title: str, answer: str) -> int:
    rid = (await ctx.rooms.create(owner, f"desk-{visibility}", "", visibility))["id"]
    await ctx.support.enable(owner, rid)
    await ctx.support.add_entry(owner, rid, title, answer, "")
    return rid


async def test_a_mention_in_a_room_is_answered_from_readable_knowledge_bases(ctx: Context) -> None:
    own, ann, bob = await register(ctx, "own", "ann", "bob")
    assistant = await ctx.support.assistant_account()
    assert assistant.server_bot
    await _desk(ctx, own, "public", "How do I reset my password?", "Settings, then Security.")
    secret = await _desk(ctx, own, "private", "What is the vault code?", "The code is 4711.")
    rid = (await ctx.rooms.create(own, "lobby", "", "public"))["id"]
    for person in (ann, bob):
        await ctx.rooms.join(person, rid)
    # only the room's admins add the server's bot (it has no owner)
    assert await outcome(ctx.bots.add_to_room(ann, rid, assistant.id)) == "forbidden"
    added = await ctx.bots.add_to_room(own, rid, assistant.id)
    assert added["id"] == assistant.id and added["owner_id"] is None

    await ctx.messages.send(ann, rid, "not for the bot: how do I reset my password?")
    question, _ = await ctx.messages.send(ann, rid, "@assistant how do I reset my password?")
    await _heard(ctx)
    said = await _messages(ctx, ann, rid)
    answers = [m for m in said if m["sender"]["id"] == assistant.id]
    assert len(answers) == 1  # the message without a mention was not answered
    assert answers[0]["sender"].get("bot") is True and answers[0]["reply_to"] == question.seq
    assert answers[0]["text"].startswith("Settings, then Security.") and "How do I reset my password?" in answers[0]["text"]

    # the private desk's entry: never for a non-member; in a public room for nobody (anyone may read
    # it later); in a direct chat for its member; in a private room while every member may read it
    unknown = "Sorry, I could not find an answer to that in the knowledge base."
    await ctx.messages.send(bob, rid, "@assistant what is the vault code?")
    await _heard(ctx)
    last = (await _messages(ctx, bob, rid))[-1]
    assert last["sender"]["id"] == assistant.id and last["text"] == unknown
    await ctx.rooms.invite(own, secret, ["bob"])
    await ctx.rooms.join(bob, secret)
    await ctx.messages.send(bob, rid, "@assistant what is the vault code?")
    await _heard(ctx)
    assert (await _messages(ctx, bob, rid))[-1]["text"] == unknown
    chat, _ = await ctx.rooms.direct(bob, [assistant.username])
    await ctx.messages.send(bob, chat["id"], "what is the vault code?")
    await _heard(ctx)
    assert (await _messages(ctx, bob, chat["id"]))[-1]["text"].startswith("The code is 4711.")
    team = (await ctx.rooms.create(own, "team", "", "private"))["id"]
    await ctx.rooms.invite(own, team, ["bob"])
    await ctx.rooms.join(bob, team)
    await ctx.bots.add_to_room(own, team, assistant.id)
    await ctx.messages.send(bob, team, "@assistant what is the vault code?")
    await _heard(ctx)
    assert (await _messages(ctx, bob, team))[-1]["text"].startswith("The code is 4711.")
    await ctx.rooms.invite(own, team, ["ann"])
    await ctx.rooms.join(ann, team)
    await ctx.messages.send(bob, team, "@assistant what is the vault code?")
    await _heard(ctx)
    assert (await _messages(ctx, bob, team))[-1]["text"] == unknown  # ann may not read that desk

    # removed: it hears nothing there any more
    await ctx.moderation.kick(own, rid, assistant.id)
    before = len(await _messages(ctx, ann, rid))
    await ctx.messages.send(ann, rid, "@assistant how do I reset my password?")
    await _heard(ctx)
    assert len(await _messages(ctx, ann, rid)) == before + 1


async def test_a_direct_chat_is_answered_and_bots_are_never(ctx: Context) -> None:
    own, ann = await register(ctx, "own", "ann")
    assistant = await ctx.support.assistant_account()
    await _desk(ctx, own, "public", "如何申请退款？", "在订单页面申请退款。")
    assert assistant.id in [u.id for u in await ctx.accounts.search("assist", 10)]  # to open a chat with
    room, _ = await ctx.rooms.direct(ann, [assistant.username])
    await ctx.messages.send(ann, room["id"], "请问如何申请退款？")
    await _heard(ctx)
    await ctx.messages.send(ann, room["id"], "where is my parcel?")
    await _heard(ctx)
    texts = [m["text"] for m in await _messages(ctx, ann, room["id"])]
    assert texts[1].startswith("在订单页面申请退款。") and "出自" in texts[1]
    assert texts[3] == "Sorry, I could not find an answer to that in the knowledge base."
    assert len(texts) == 4  # it does not answer its own answers

    # another bot mentions it (and it the bot): no answer, no loop
    view, token = await ctx.bots.create(own, "echo")
    echo, _ = await ctx.accounts.authenticate(token)
    rid = (await ctx.rooms.create(own, "bots", "", "public"))["id"]
    await ctx.bots.add_to_room(own, rid, echo.id)
    await ctx.bots.add_to_room(own, rid, assistant.id)
    await ctx.messages.send(echo, rid, "@assistant how do I ask for a refund? 如何申请退款")
    await ctx.messages.send(assistant, rid, "@assistant talking to myself")
    await _heard(ctx)
    assert [m["sender"]["id"] for m in await _messages(ctx, own, rid)] == [echo.id, assistant.id]


async def test_two_nodes_answer_once(database_url: str) -> None:
    one = await open_context(database_url)
    two = await open_context(database_url)
    try:
        own, ann = await register(one, "own", "ann")
        assistant = await one.support.assistant_account()
        await _desk(one, own, "public", "How do I reset my password?", "Settings, then Security.")
        rid = (await one.rooms.create(own, "lobby", "", "public"))["id"]
        await one.rooms.join(ann, rid)
        await one.bots.add_to_room(own, rid, assistant.id)
        for n in range(3):
            await one.messages.send(ann, rid, f"@assistant how do I reset my password? ({n})")
            await asyncio.gather(one.bots.match_once(), two.bots.match_once())
        await _heard(one, two)
        answers = [m for m in await _messages(one, ann, rid) if m["sender"]["id"] == assistant.id]
        assert len(answers) == 3 and len({m["reply_to"] for m in answers}) == 3
    finally:
        await close_context(two)
        await close_context(one)


async def test_questions_are_rate_limited_per_asker(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    assistant = await ctx.support.assistant_account()
    chat, _ = await ctx.rooms.direct(ann, [assistant.username])
    for n in range(7):
        await ctx.messages.send(ann, chat["id"], f"question {n}")
    await _heard(ctx)
    said = await _messages(ctx, ann, chat["id"])
    questions = [m["seq"] for m in said if m["sender"]["id"] == ann.id]
    answers = [m["reply_to"] for m in said if m["sender"]["id"] == assistant.id]
    assert len(questions) == 7 and sorted(answers) == questions[:5]  # a burst of 5, then one each 12 s
    other, _ = await ctx.rooms.direct(bob, [assistant.username])  # the limit is per asker
    await ctx.messages.send(bob, other["id"], "question")
    await _heard(ctx)
    assert len(await _messages(ctx, bob, other["id"])) == 2
