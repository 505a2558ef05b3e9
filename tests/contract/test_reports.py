"""Reports and blocks (issue 11) on SQLite and PostgreSQL: who may report, who sees a report (and the
escalation of reports about a moderator to the server admins), one per reporter per message,
resolving, and blocking: no direct chats from a blocked user, and they are not told."""

from __future__ import annotations

import asyncio

import msgspec

from parley.core import wire
from parley.core.models import User
from parley.store import reports as report_store
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
    # Who is told live: the room's moderators and up; the server admins about a moderator, or where
    # a room has no moderators (a direct chat, where the report is still seen by the admins only).
    direct, _ = await ctx.rooms.direct(ann, ["bob"])
    dm_said, _ = await ctx.messages.send(bob, direct["id"], "psst")
    await ctx.reports.report(ann, direct["id"], dm_said.seq, "abuse")
    async with ctx.db.read() as conn:
        assert await report_store.handlers(conn, rid, bob.id) == sorted([own.id, mod.id])
        assert await report_store.handlers(conn, rid, mod.id) == [adm.id]
        assert await report_store.handlers(conn, direct["id"], bob.id) == [adm.id]
    dm_report = (await ctx.reports.queue(adm))["reports"][0]
    assert (dm_report["room"]["kind"], dm_report["seq"]) == ("direct", dm_said.seq)
    await ctx.reports.resolve(adm, dm_report["id"], "dismiss")
    # The server admin, not a member of the room, deletes it through the report.
    assert (await ctx.reports.resolve(adm, about_mod["id"], "delete", note="keep it civil"))["action"] == "delete"
    after = {m["seq"]: m for m in (await ctx.messages.history(own, rid))["messages"]}
    assert after[said.seq]["deleted"] is True and after[said.seq]["text"] == ""
    deleted_event = after[max(after)]
    assert (deleted_event["type"], deleted_event["target"], deleted_event["by"]) == (
        "message_deleted", said.seq, adm.id)
    done = (await ctx.reports.queue(adm, "resolved", rid))["reports"]
    assert [(r["id"], r["action"], r["resolved_by"]["id"], r["resolution_note"]) for r in done] == [
        (about_mod["id"], "delete", adm.id, "keep it civil")]
    assert done[0]["snippet"] == "rude words" and done[0]["message"]["deleted"] is True

    # The reporter sees that those were handled (and how), not by whom.
    own_view = (await ctx.reports.mine(ann))["reports"]
    assert [(r["id"], r["state"], r["action"], r["resolved_by"]) for r in own_view] == [
        (dm_report["id"], "resolved", "dismiss", None), (about_mod["id"], "resolved", "delete", None),
        (mine["id"], "open", None, None)]
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
    # Each resolution is in the audit log, next to the deletion it carried out.
    log = (await ctx.audit.entries(own, room=rid))["entries"]
    resolutions = [(e["target"]["id"], e["data"]["action"], sorted(e["data"]["reports"]), e["data"]["seq"])
                   for e in log if e["action"] == "resolve_report"]
    assert resolutions == [(bob.id, "dismiss", [unrelated["id"]], other.seq),
                           (bob.id, "delete", [first["id"], second["id"]], sent.seq)]
    assert [e["data"] for e in log if e["action"] == "delete_message"] == [{"seq": sent.seq}]


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


async def test_resolving_mutes_kicks_or_bans_the_sender_through_the_moderation_service(ctx: Context) -> None:
    own, ann, bob, cat, dan = await register(ctx, "own", "ann", "bob", "cat", "dan")
    rid = await _room(ctx, own, ann, bob, cat, dan)
    said = {user.username: (await ctx.messages.send(user, rid, f"junk from {user.username}"))[0]
            for user in (bob, cat, dan)}
    made = {name: await ctx.reports.report(ann, rid, event.seq, "abuse") for name, event in said.items()}

    muted = await ctx.reports.resolve(own, made["bob"]["id"], "mute", duration_s=600, note="cool off")
    assert (muted["action"], muted["resolution_note"]) == ("mute", "cool off")
    assert await outcome(ctx.messages.send(bob, rid, "still here")) == "muted"  # reads, cannot post
    await ctx.reports.resolve(own, made["cat"]["id"], "kick")
    assert rid not in [r["id"] for r in await ctx.rooms.mine(cat)]
    await ctx.reports.resolve(own, made["dan"]["id"], "ban", duration_s=3600)
    assert rid not in [r["id"] for r in await ctx.rooms.mine(dan)]
    assert await outcome(ctx.rooms.join(dan, rid)) == "banned"  # cannot come back
    events = [e.wire() for e in await ctx.messages.replay(rid, said["dan"].seq)]
    assert [(e["type"], e["user"]["id"]) for e in events if e["type"].startswith("member_")] == [
        ("member_muted", bob.id), ("member_kicked", cat.id), ("member_banned", dan.id)]
    log = (await ctx.audit.entries(own, room=rid))["entries"]
    assert [e["action"] for e in log] == ["resolve_report", "ban", "resolve_report", "kick", "resolve_report",
                                          "mute"]


async def test_resolving_is_atomic_and_one_of_two_handlers_wins(ctx: Context) -> None:
    """The action and the report's state commit together: two handlers resolving at once, one
    acts and the other gets 409 having done nothing; a refused action leaves the report open."""
    own, mod, ann, bob, cat = await register(ctx, "own", "mod", "ann", "bob", "cat")
    rid = await _room(ctx, own, mod, ann, bob, cat)
    await ctx.rooms.set_role(own, rid, mod.id, "moderator")
    for round_ in range(3):
        sent, _ = await ctx.messages.send(bob, rid, f"junk {round_}")
        report = await ctx.reports.report(ann, rid, sent.seq, "abuse")
        results = await asyncio.gather(ctx.reports.resolve(own, report["id"], "ban", duration_s=600),
                                       ctx.reports.resolve(mod, report["id"], "mute", duration_s=600),
                                       return_exceptions=True)
        won = [r for r in results if isinstance(r, dict)]
        lost = [r for r in results if not isinstance(r, dict)]
        assert len(won) == 1 and [e.code for e in lost] == ["conflict"]  # type: ignore[attr-defined]
        done = [e.wire()["type"] for e in await ctx.messages.replay(rid, sent.seq)
                if e.wire()["type"] in ("member_banned", "member_muted")]
        assert done == ["member_banned" if won[0]["action"] == "ban" else "member_muted"]  # one action only
        if won[0]["action"] == "ban":
            await ctx.moderation.unban(own, rid, bob.id)
            await ctx.rooms.join(bob, rid)
        else:
            await ctx.moderation.unmute(own, rid, bob.id)

    # The action refused (bob left: there is no one to kick) after the reports were taken in the
    # same transaction: it rolls back, the report stays open and is resolved later.
    sent, _ = await ctx.messages.send(bob, rid, "more junk")
    report = await ctx.reports.report(cat, rid, sent.seq, "abuse")
    await ctx.rooms.leave(bob, rid)
    refused = await outcome(ctx.reports.resolve(mod, report["id"], "kick"))
    assert refused != "ok"
    assert report["id"] in await _ids(ctx, mod)
    assert (await ctx.reports.resolve(mod, report["id"], "dismiss"))["state"] == "resolved"
    assert report["id"] not in await _ids(ctx, mod)


async def test_a_blocked_user_in_a_direct_chat_can_neither_edit_react_pin_nor_type(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    direct, _ = await ctx.rooms.direct(bob, ["ann"])
    did = direct["id"]
    mine, _ = await ctx.messages.send(bob, did, "before the block")
    hers, _ = await ctx.messages.send(ann, did, "hi bob")
    await ctx.blocks.block(ann, bob.id)
    assert await outcome(ctx.actions.edit(bob, did, mine.seq, "sneaky edit")) == "forbidden"
    assert await outcome(ctx.actions.react(bob, did, hers.seq, "👍")) == "forbidden"
    assert await outcome(ctx.messages.typing(bob, did)) == "forbidden"
    refused = [await outcome(call) for call in (ctx.actions.edit(bob, did, mine.seq, "x"),
                                                ctx.messages.send(bob, did, "x"))]
    assert refused == ["forbidden", "forbidden"]  # as neutral as a refused send
    history = (await ctx.messages.history(ann, did))["messages"]
    assert not [m for m in history if m["type"] in ("message_edited", "reaction_added")]  # nothing stored
    assert next(m for m in history if m["seq"] == mine.seq)["text"] == "before the block"
    # Ann acts as before; bob still deletes his own message; once unblocked he reacts again.
    assert await outcome(ctx.actions.react(ann, did, mine.seq, "👍")) == "ok"
    assert await outcome(ctx.messages.typing(ann, did)) == "ok"
    await ctx.blocks.unblock(ann, bob.id)
    assert await outcome(ctx.actions.react(bob, did, hers.seq, "👍")) == "ok"
    await ctx.blocks.block(ann, bob.id)
    assert await outcome(ctx.actions.delete(bob, did, mine.seq)) == "ok"
    # In a room (not a direct chat), a block changes nothing of what bob may do.
    rid = await _room(ctx, ann, bob)
    said, _ = await ctx.messages.send(bob, rid, "in the room")
    assert await outcome(ctx.actions.edit(bob, rid, said.seq, "edited in the room")) == "ok"
    assert await outcome(ctx.messages.typing(bob, rid)) == "ok"
