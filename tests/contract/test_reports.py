"""Reports and blocks (issue 11) on SQLite and PostgreSQL: who may report, who sees a report (and the
escalation of reports about a moderator to the server admins), one per reporter per message,
resolving, and blocking: no direct chats from a blocked user, and they are not told."""

from __future__ import annotations

import msgspec

from parley.core import wire
from parley.core.models import User
from parley.web.context import Context
from tests.contract.helpers import message_count, outcome, register


async def _room(ctx: Context, owner: User, *others: User, name: str = "reports") -> int:
    rid = (await ctx.rooms.create(owner, name))["id"]
    for user in others:
        await ctx.rooms.join(user, rid)
    return rid


async def _ids(ctx: Context, user: User, state: str = "open", room: int | None = None) -> list[int]:
    return [r["id"] for r in (await ctx.reports.queue(user, state, room))["reports"]]


async def test_who_reports_who_sees_and_the_moderator_escalation(ctx: Context) -> None:
    adm, own, mod, ann, bob, eve = await register(ctx, "adm", "own", "mod", "ann", "bob", "eve")
    rid = await _room(ctx, own, mod, ann, bob)
    await ctx.rooms.set_role(own, rid, mod.id, "moderator")
    sent, _ = await ctx.messages.send(bob, rid, "buy cheap watches http://spam.example")

    mine = await ctx.reports.report(ann, rid, sent.seq, "spam", "third time today")
    assert (mine["state"], mine["reason"], mine["note"], mine["seq"]) == ("open", "spam", "third time today", sent.seq)
    assert mine["message"] is None and mine["resolved_by"] is None  # the reporter's view
    assert mine["snippet"] == "buy cheap watches http://spam.example"
    msgspec.convert(mine, wire.Report)  # what the struct (and the OpenAPI schema) describes
    # One per reporter per message; only members who read the room; never one's own; only messages.
    assert await outcome(ctx.reports.report(ann, rid, sent.seq, "abuse")) == "conflict"
    assert await outcome(ctx.reports.report(eve, rid, sent.seq, "spam")) == "not_found"
    assert await outcome(ctx.reports.report(bob, rid, sent.seq, "spam")) == "invalid"
    assert await outcome(ctx.reports.report(ann, rid, 1, "spam")) == "not_found"  # room_created
    assert await outcome(ctx.reports.report(ann, rid, 999, "spam")) == "not_found"
    assert await outcome(ctx.reports.report(ann, rid, sent.seq, "nonsense")) == "invalid"
    assert await outcome(ctx.reports.report(ann, rid, sent.seq, "other", "x" * 501)) == "invalid"
    gone, _ = await ctx.messages.send(bob, rid, "regret")
    await ctx.actions.delete(bob, rid, gone.seq)
    assert await outcome(ctx.reports.report(ann, rid, gone.seq, "abuse")) == "conflict"

    # The room's moderators and up, and the server admins, see it with the message; members do not.
    seen = (await ctx.reports.queue(mod))["reports"]
    assert [r["id"] for r in seen] == [mine["id"]]
    assert seen[0]["message"]["text"] == sent.data["text"] and seen[0]["message"]["seq"] == sent.seq
    assert (seen[0]["reporter"]["id"], seen[0]["sender"]["id"], seen[0]["room"]) == (
        ann.id, bob.id, {"id": rid, "name": "reports", "kind": "room"})
    msgspec.convert(seen[0], wire.Report)
    assert await _ids(ctx, own) == [mine["id"]] and await _ids(ctx, adm) == [mine["id"]]
    assert await _ids(ctx, bob) == [] and await _ids(ctx, eve) == []
    assert await outcome(ctx.reports.queue(bob, "open", rid)) == "not_found"
    assert await outcome(ctx.reports.queue(eve, "open", rid)) == "not_found"
    assert await _ids(ctx, mod, "open", rid) == [mine["id"]] and await _ids(ctx, mod, "resolved") == []

    # A report about a moderator's message goes to the server admins only, not to their peers.
    said, _ = await ctx.messages.send(mod, rid, "rude words")
    about_mod = await ctx.reports.report(ann, rid, said.seq, "abuse")
    assert about_mod["id"] not in await _ids(ctx, mod) and about_mod["id"] not in await _ids(ctx, own)
    assert await _ids(ctx, adm) == [about_mod["id"], mine["id"]]
    assert await outcome(ctx.reports.resolve(mod, about_mod["id"], "dismiss")) == "not_found"
    assert await outcome(ctx.reports.resolve(own, about_mod["id"], "delete")) == "not_found"
    assert await outcome(ctx.reports.resolve(ann, mine["id"], "dismiss")) == "not_found"  # a member
    # The server admin, not a member of the room, deletes it through the report.
    assert (await ctx.reports.resolve(adm, about_mod["id"], "delete", note="keep it civil"))["action"] == "delete"
    after = {m["seq"]: m for m in (await ctx.messages.history(own, rid))["messages"]}
    assert after[said.seq]["deleted"] is True and after[said.seq]["text"] == ""
    deleted_event = after[max(after)]
    assert (deleted_event["type"], deleted_event["target"], deleted_event["by"]) == (
        "message_deleted", said.seq, adm.id)
    done = (await ctx.reports.queue(adm, "resolved"))["reports"]
    assert [(r["id"], r["action"], r["resolved_by"]["id"], r["resolution_note"]) for r in done] == [
        (about_mod["id"], "delete", adm.id, "keep it civil")]
    assert done[0]["snippet"] == "rude words" and done[0]["message"]["deleted"] is True

    # The reporter sees that both were handled (and how), not by whom.
    own_view = (await ctx.reports.mine(ann))["reports"]
    assert [(r["id"], r["state"], r["action"], r["resolved_by"]) for r in own_view] == [
        (about_mod["id"], "resolved", "delete", None), (mine["id"], "open", None, None)]
    assert (await ctx.reports.mine(bob))["reports"] == []


async def test_resolving_resolves_every_open_report_of_the_message(ctx: Context) -> None:
    _adm, own, ann, bob, cat = await register(ctx, "adm", "own", "ann", "bob", "cat")
    rid = await _room(ctx, own, ann, bob, cat)
    sent, _ = await ctx.messages.send(bob, rid, "win a prize now")
    other, _ = await ctx.messages.send(bob, rid, "a normal message")
    first = await ctx.reports.report(ann, rid, sent.seq, "spam")
    second = await ctx.reports.report(cat, rid, sent.seq, "abuse", "annoying")
    unrelated = await ctx.reports.report(ann, rid, other.seq, "other")
    assert await _ids(ctx, own) == [unrelated["id"], second["id"], first["id"]]  # each report listed

    resolved = await ctx.reports.resolve(own, second["id"], "delete")
    assert (resolved["id"], resolved["state"], resolved["action"]) == (second["id"], "resolved", "delete")
    assert await _ids(ctx, own) == [unrelated["id"]]
    assert await _ids(ctx, own, "resolved") == [second["id"], first["id"]]
    history = {m["seq"]: m for m in (await ctx.messages.history(own, rid))["messages"]}
    assert history[sent.seq]["deleted"] is True
    assert await outcome(ctx.reports.resolve(own, first["id"], "dismiss")) == "conflict"
    assert await outcome(ctx.reports.resolve(own, 10_000, "dismiss")) == "not_found"
    assert await outcome(ctx.reports.resolve(own, unrelated["id"], "mute")) == "invalid"  # no duration
    assert await outcome(ctx.reports.resolve(own, unrelated["id"], "explode")) == "invalid"
    assert (await ctx.reports.resolve(own, unrelated["id"], "dismiss"))["action"] == "dismiss"
    history = {m["seq"]: m for m in (await ctx.messages.history(own, rid))["messages"]}
    assert history[other.seq]["text"] == "a normal message"  # a dismissal leaves the message be
    assert {r["state"] for r in (await ctx.reports.mine(cat))["reports"]} == {"resolved"}


async def test_reports_are_rate_limited_per_reporter(ctx: Context) -> None:
    own, ann, bob = await register(ctx, "own", "ann", "bob")
    rid = await _room(ctx, own, ann, bob)
    burst = ctx.reports.deps.limits.report_rate.burst
    seqs = [(await ctx.messages.send(bob, rid, f"m{i}"))[0].seq for i in range(int(burst) + 1)]
    for seq in seqs[:-1]:
        await ctx.reports.report(ann, rid, seq, "spam")
    assert await outcome(ctx.reports.report(ann, rid, seqs[-1], "spam")) == "rate_limited"
    assert await outcome(ctx.reports.report(own, rid, seqs[-1], "spam")) == "ok"  # per reporter


async def test_blocking_refuses_direct_chats_from_the_blocked_user(ctx: Context) -> None:
    ann, bob, cat = await register(ctx, "ann", "bob", "cat")
    existing, _ = await ctx.rooms.direct(bob, ["ann"])
    assert await outcome(ctx.blocks.block(ann, ann.id)) == "invalid"
    assert await outcome(ctx.blocks.block(ann, 10_000)) == "not_found"
    assert await ctx.blocks.block(ann, bob.id) is True
    assert await ctx.blocks.block(ann, bob.id) is False  # idempotent
    assert [b["user"]["id"] for b in await ctx.blocks.listed(ann)] == [bob.id]
    assert await ctx.blocks.ids(ann) == [bob.id] and await ctx.blocks.ids(bob) == []

    # No new direct chat from bob, alone or in a group; the existing one refuses his sends.
    assert await outcome(ctx.rooms.direct(bob, ["ann"])) == "forbidden"
    assert await outcome(ctx.rooms.direct(bob, ["ann", "cat"])) == "forbidden"
    before = await message_count(ctx)
    assert await outcome(ctx.messages.send(bob, existing["id"], "hello?")) == "forbidden"
    assert await message_count(ctx) == before
    # Ann may still write to him, and bob chats with others as before.
    assert await outcome(ctx.messages.send(ann, existing["id"], "goodbye")) == "ok"
    with_cat, _ = await ctx.rooms.direct(bob, ["cat"])
    assert await outcome(ctx.messages.send(bob, with_cat["id"], "hi cat")) == "ok"

    # A mention from someone I block does not count as one.
    rid = await _room(ctx, cat, ann, bob)
    await ctx.messages.send(bob, rid, "hey @ann")
    await ctx.messages.send(cat, rid, "hey @ann")
    room = next(r for r in await ctx.rooms.mine(ann) if r["id"] == rid)
    assert (room["unread"], room["mentions"]) == (2, 1)

    assert await ctx.blocks.unblock(ann, bob.id) is True
    assert await ctx.blocks.unblock(ann, bob.id) is False
    assert await outcome(ctx.messages.send(bob, existing["id"], "hello again")) == "ok"
    assert await outcome(ctx.rooms.direct(bob, ["ann"])) == "ok"
