"""Message actions (issue 10) on SQLite and PostgreSQL: edit, delete, reactions, replies, threads,
pins, @room, status; each as a room-log event, each refused where it must be."""

from __future__ import annotations

import sqlalchemy as sa

from parley.core.models import Role, User
from parley.store.tables import events, message_versions, pins, reactions
from parley.web.context import Context
from tests.contract.helpers import outcome, register


async def _room(ctx: Context, owner: User, *others: User, name: str = "actions") -> int:
    rid = (await ctx.rooms.create(owner, name))["id"]
    for user in others:
        await ctx.rooms.join(user, rid)
    return rid


async def _history(ctx: Context, user: User, rid: int) -> dict[int, dict]:
    return {m["seq"]: m for m in (await ctx.messages.history(user, rid, limit=100))["messages"]}


async def _log(ctx: Context, rid: int, after: int) -> list[dict]:
    return [e.wire() for e in await ctx.messages.replay(rid, after)]


async def test_edit_keeps_versions_resolves_mentions_and_appends_an_event(ctx: Context) -> None:
    ann, bob, cat = await register(ctx, "ann", "bob", "cat")
    rid = await _room(ctx, ann, bob, cat)
    sent, _ = await ctx.messages.send(ann, rid, "hi @bob")
    assert sent.data["mentions"] == [bob.id]
    view, changed = await ctx.actions.edit(ann, rid, sent.seq, "hi @cat, not bob")
    assert changed and view["text"] == "hi @cat, not bob" and view["mentions"] == [cat.id]
    assert view["edited_at"] > 0
    edited = (await _log(ctx, rid, sent.seq))[-1]
    assert edited["type"] == "message_edited" and edited["target"] == sent.seq
    assert edited["text"] == "hi @cat, not bob" and edited["mentions"] == [cat.id]
    assert edited["sender"]["id"] == ann.id
    # History shows the message as it now is; the earlier text is a version, listed to readers.
    assert (await _history(ctx, bob, rid))[sent.seq]["text"] == "hi @cat, not bob"
    await ctx.actions.edit(ann, rid, sent.seq, "third")
    found = await ctx.actions.versions(bob, rid, sent.seq)
    assert [v["text"] for v in found["versions"]] == ["hi @bob", "hi @cat, not bob"]
    assert found["text"] == "third"
    # The same text again changes nothing: no version, no event.
    last = (await ctx.rooms.get(ann, rid))["last_seq"]
    assert (await ctx.actions.edit(ann, rid, sent.seq, "third"))[1] is False
    assert (await ctx.rooms.get(ann, rid))["last_seq"] == last


async def test_edit_refusals(ctx: Context) -> None:
    ann, bob, eve = await register(ctx, "ann", "bob", "eve")
    rid = await _room(ctx, ann, bob)
    sent, _ = await ctx.messages.send(ann, rid, "mine")
    await ctx.rooms.set_role(ann, rid, bob.id, "admin")
    assert await outcome(ctx.actions.edit(bob, rid, sent.seq, "not yours")) == "forbidden"  # even an admin
    assert await outcome(ctx.actions.edit(eve, rid, sent.seq, "x")) == "not_found"  # not a member
    assert await outcome(ctx.actions.edit(ann, rid, 999, "x")) == "not_found"  # no such seq
    assert await outcome(ctx.actions.edit(ann, rid, 1, "x")) == "not_found"  # room_created, not a message
    assert await outcome(ctx.actions.edit(ann, rid, sent.seq, "   ")) == "invalid"
    assert await outcome(ctx.actions.edit(ann, rid, sent.seq, "x" * 4001)) == "invalid"
    assert await outcome(ctx.actions.versions(eve, rid, sent.seq)) == "not_found"
    await ctx.actions.delete(ann, rid, sent.seq)
    assert await outcome(ctx.actions.edit(ann, rid, sent.seq, "back")) == "not_found"


async def test_delete_erases_from_storage_and_keeps_a_tombstone(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    rid = await _room(ctx, ann, bob)
    sent, _ = await ctx.messages.send(bob, rid, "secret @ann")
    await ctx.actions.edit(bob, rid, sent.seq, "secret two @ann")
    await ctx.actions.react(ann, rid, sent.seq, "👍")
    await ctx.actions.pin(ann, rid, sent.seq)
    assert await ctx.actions.delete(bob, rid, sent.seq) is True
    assert await ctx.actions.delete(bob, rid, sent.seq) is False  # a tombstone: nothing more to do
    async with ctx.db.read() as conn:
        row = (await conn.execute(sa.select(events.c.text, events.c.data).where(
            events.c.room_id == rid, events.c.seq == sent.seq))).one()
        left = [await conn.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.room_id == rid))
                for t in (message_versions, reactions, pins)]
    assert row.text == "" and "secret" not in (row.data or "") and "mentions" not in (row.data or "")
    assert left == [0, 0, 0]
    tomb = (await _history(ctx, ann, rid))[sent.seq]
    assert tomb["deleted"] is True and tomb["text"] == "" and tomb["mentions"] == []
    assert "reactions" not in tomb and "pinned" not in tomb
    deleted = [e for e in await _log(ctx, rid, sent.seq) if e["type"] == "message_deleted"]
    assert [(e["target"], e["by"]) for e in deleted] == [(sent.seq, bob.id)]
    # Nothing left to react to, pin or read old versions of.
    assert await outcome(ctx.actions.react(ann, rid, sent.seq, "👍")) == "not_found"
    assert (await ctx.actions.versions(ann, rid, sent.seq))["versions"] == []


async def test_who_may_delete_whose_message(ctx: Context) -> None:
    ann, bob, cat = await register(ctx, "ann", "bob", "cat")
    rid = await _room(ctx, ann, bob, cat)
    by_ann, _ = await ctx.messages.send(ann, rid, "owner's")
    by_cat, _ = await ctx.messages.send(cat, rid, "cat's")
    assert await outcome(ctx.actions.delete(bob, rid, by_cat.seq)) == "forbidden"
    assert await outcome(ctx.actions.delete(cat, rid, by_ann.seq)) == "forbidden"
    await ctx.rooms.set_role(ann, rid, bob.id, Role.MODERATOR.label)
    assert await outcome(ctx.actions.delete(bob, rid, by_cat.seq)) == "ok"
    assert await outcome(ctx.actions.delete(bob, rid, by_ann.seq)) == "ok"


async def test_reactions_are_idempotent_counted_per_reader_and_capped(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    rid = await _room(ctx, ann, bob)
    sent, _ = await ctx.messages.send(ann, rid, "react to me")
    family, flag, keycap, toned = "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣", "👍🏽"
    for emoji in (family, flag, keycap, toned):
        assert await ctx.actions.react(bob, rid, sent.seq, emoji) is True
    assert await ctx.actions.react(bob, rid, sent.seq, family) is False  # idempotent
    assert await ctx.actions.react(ann, rid, sent.seq, family) is True
    seen_by_ann = (await _history(ctx, ann, rid))[sent.seq]["reactions"]
    assert seen_by_ann[0] == {"emoji": family, "count": 2, "me": True}
    assert {r["emoji"]: (r["count"], r["me"]) for r in seen_by_ann[1:]} == {
        flag: (1, False), keycap: (1, False), toned: (1, False)}
    assert await ctx.actions.react(bob, rid, sent.seq, flag, on=False) is True
    assert await ctx.actions.react(bob, rid, sent.seq, flag, on=False) is False
    log = [(e["type"], e["emoji"], e["user"]) for e in await _log(ctx, rid, sent.seq)]
    assert log == [("reaction_added", family, bob.id), ("reaction_added", flag, bob.id),
                   ("reaction_added", keycap, bob.id), ("reaction_added", toned, bob.id),
                   ("reaction_added", family, ann.id), ("reaction_removed", flag, bob.id)]
    for bad in ("a", ":+1:", "👍👍", "👍 ", "", "<script>", "\u200d", "1", "#"):
        assert await outcome(ctx.actions.react(bob, rid, sent.seq, bad)) == "invalid", bad
    many = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰", "😗", "😙"]
    for emoji in many:  # 3 kinds there already + 17 = 20, the cap
        await ctx.actions.react(bob, rid, sent.seq, emoji)
    assert await outcome(ctx.actions.react(ann, rid, sent.seq, "🙂")) == "conflict"
    assert await outcome(ctx.actions.react(ann, rid, sent.seq, "😀")) == "ok"  # one already there: fine


async def test_replies_and_threads(ctx: Context) -> None:
    ann, bob, cat = await register(ctx, "ann", "bob", "cat")
    rid = await _room(ctx, ann, bob, cat)
    other = await _room(ctx, bob, ann, name="other")
    root, _ = await ctx.messages.send(ann, rid, "a long question " + "x" * 300)
    reply, _ = await ctx.messages.send(bob, rid, "an answer", reply_to=root.seq)
    assert reply.data["reply_to"] == root.seq
    first, _ = await ctx.messages.send(bob, rid, "in thread", thread_root=root.seq)
    assert first.data["thread_participants"] == [ann.id]  # the root's author, not the sender
    second, _ = await ctx.messages.send(cat, rid, "me too", thread_root=root.seq, reply_to=first.seq)
    assert second.data["thread_participants"] == [ann.id, bob.id]
    page = await _history(ctx, cat, rid)
    assert page[root.seq]["thread"] == {"count": 2, "last_seq": second.seq, "last_ts": second.ts}
    quote = page[reply.seq]["reply"]
    assert quote["seq"] == root.seq and quote["author"]["id"] == ann.id and not quote["deleted"]
    assert quote["text"].startswith("a long question") and len(quote["text"]) <= 120
    thread = await ctx.actions.thread(cat, rid, root.seq)
    assert thread["root"]["seq"] == root.seq
    assert [m["seq"] for m in thread["replies"]] == [first.seq, second.seq] and not thread["has_more"]
    # Refusals: what they name must be a message of this room, a root must be top-level.
    bad = [dict(reply_to=999), dict(thread_root=999), dict(reply_to=1), dict(thread_root=first.seq),
           dict(thread_root=root.seq, reply_to=reply.seq)]
    for fields in bad:
        assert await outcome(ctx.messages.send(bob, rid, "x", **fields)) == "invalid", fields
    assert await outcome(ctx.messages.send(bob, other, "x", reply_to=root.seq)) == "invalid"  # another room's seq
    assert await outcome(ctx.actions.thread(cat, other, root.seq)) == "not_found"
    # A thread reply counts as a mention of its participants (in the room's unread mentions).
    before = (await ctx.rooms.get(cat, rid))["mentions"]
    await ctx.messages.send(ann, rid, "thanks both", thread_root=root.seq)
    assert (await ctx.rooms.get(cat, rid))["mentions"] == before + 1
    await ctx.actions.delete(ann, rid, root.seq)
    assert (await _history(ctx, cat, rid))[reply.seq]["reply"]["deleted"] is True
    assert await outcome(ctx.messages.send(bob, rid, "x", reply_to=root.seq)) == "invalid"
    assert await outcome(ctx.messages.send(bob, rid, "x", thread_root=root.seq)) == "invalid"


async def test_a_batch_with_replies_and_plain_messages(ctx: Context) -> None:
    """Sends in one batch: plain ones, replies and a refused reply settle each on their own."""
    import asyncio

    ann, bob = await register(ctx, "ann", "bob")
    rid = await _room(ctx, ann, bob)
    root, _ = await ctx.messages.send(ann, rid, "root")
    calls = [ctx.messages.send(bob, rid, f"plain {i}") for i in range(5)]
    calls += [ctx.messages.send(bob, rid, f"reply {i}", reply_to=root.seq) for i in range(3)]
    calls += [ctx.messages.send(ann, rid, "thread", thread_root=root.seq)]
    calls += [ctx.messages.send(bob, rid, "bad", reply_to=10_000)]
    results = await asyncio.gather(*(outcome(c) for c in calls))
    assert results == ["ok"] * 9 + ["invalid"]


async def test_pins_are_for_moderators(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    rid = await _room(ctx, ann, bob)
    sent, _ = await ctx.messages.send(bob, rid, "pin me")
    assert await outcome(ctx.actions.pin(bob, rid, sent.seq)) == "forbidden"
    assert await ctx.actions.pin(ann, rid, sent.seq) is True
    assert await ctx.actions.pin(ann, rid, sent.seq) is False
    listed = (await ctx.actions.pins(bob, rid))["pins"]
    assert [(p["message"]["seq"], p["pinned_by"]) for p in listed] == [(sent.seq, ann.id)]
    assert (await _history(ctx, bob, rid))[sent.seq]["pinned"] is True
    assert await outcome(ctx.actions.pin(ann, rid, 1)) == "not_found"
    assert await ctx.actions.pin(ann, rid, sent.seq, on=False) is True
    types = [e["type"] for e in await _log(ctx, rid, sent.seq)]
    assert types == ["message_pinned", "message_unpinned"]
    assert (await ctx.actions.pins(bob, rid))["pins"] == []
    assert "pinned" not in (await _history(ctx, bob, rid))[sent.seq]


async def test_room_mentions_only_from_moderators(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    rid = await _room(ctx, ann, bob)
    plain, _ = await ctx.messages.send(bob, rid, "hey @room and @here")
    assert "mentions_room" not in plain.data
    loud, _ = await ctx.messages.send(ann, rid, "@here meeting")
    assert loud.data["mentions_room"] is True and loud.wire()["mentions_room"] is True
    assert (await ctx.rooms.get(bob, rid))["mentions"] == 1  # counted as a mention of every member
    view, _ = await ctx.actions.edit(bob, rid, plain.seq, "still @room")
    assert "mentions_room" not in view


async def test_status_in_profile_and_user_updated(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    await _room(ctx, ann, bob)
    changed = await ctx.accounts.update_profile(bob, status="  in a meeting ")
    assert changed.status == "in a meeting" and changed.private()["status"] == "in a meeting"
    members = await ctx.rooms.members(ann, (await ctx.rooms.mine(ann))[0]["id"])
    assert {m["user"]["username"]: m["user"]["status"] for m in members} == {"ann": "", "bob": "in a meeting"}
    for bad in ("x" * 81, "a\u202eb", "\u200b"):
        assert await outcome(ctx.accounts.update_profile(bob, status=bad)) == "invalid"
    assert (await ctx.accounts.update_profile(bob, status="")).status == ""
    assert await outcome(ctx.accounts.update_profile(bob)) == "invalid"


async def test_every_action_path_checks_membership_and_archive(ctx: Context) -> None:
    ann, bob, inv, out = await register(ctx, "ann", "bob", "inv", "out")
    rid = (await ctx.rooms.create(ann, "closed", visibility="private"))["id"]
    await ctx.rooms.invite(ann, rid, ["bob", "inv", "out"])
    await ctx.rooms.join(bob, rid)
    await ctx.rooms.join(out, rid)
    sent, _ = await ctx.messages.send(bob, rid, "members only")
    await ctx.rooms.leave(out, rid)
    seq = sent.seq
    for user in (inv, out):  # invited, and left: the room is not theirs to read or act in
        calls = [ctx.actions.edit(user, rid, seq, "x"), ctx.actions.delete(user, rid, seq),
                 ctx.actions.react(user, rid, seq, "👍"), ctx.actions.pin(user, rid, seq),
                 ctx.actions.versions(user, rid, seq), ctx.actions.thread(user, rid, seq),
                 ctx.actions.pins(user, rid), ctx.messages.send(user, rid, "x", reply_to=seq)]
        assert [await outcome(c) for c in calls] == ["not_found"] * 8, user.username
    await ctx.rooms.update(ann, rid, {"archived": True})
    writes = [ctx.actions.edit(bob, rid, seq, "x"), ctx.actions.delete(bob, rid, seq),
              ctx.actions.react(bob, rid, seq, "👍"), ctx.actions.pin(ann, rid, seq)]
    assert [await outcome(c) for c in writes] == ["forbidden"] * 4
    reads = [ctx.actions.versions(bob, rid, seq), ctx.actions.thread(bob, rid, seq), ctx.actions.pins(bob, rid)]
    assert [await outcome(c) for c in reads] == ["ok"] * 3


async def test_replies_cost_the_send_batch_two_statements_and_plain_messages_none(tmp_path) -> None:
    """The fast path stays fast: a batch of plain messages runs the same statements as before
    issue 10; replies and thread replies add one read of what they name and one of the threads'
    senders per room, whatever their number (SQLite's writer thread, traced)."""
    import asyncio

    from tests.contract.helpers import close_context, open_context

    ctx = await open_context(f"sqlite:///{tmp_path / 'trace.db'}")
    try:
        ann, bob = await register(ctx, "ann", "bob")
        rid = await _room(ctx, ann, bob)
        root, _ = await ctx.messages.send(ann, rid, "root")
        traced: list[str] = []
        log = ctx.db.messages
        await asyncio.get_running_loop().run_in_executor(
            log._thread, lambda: log._connect().set_trace_callback(traced.append))

        async def batch(**fields: int) -> tuple[int, int, int, int]:
            """(transactions, statements other than the row inserts, reads of named events, reads
            of thread senders) of 30 concurrent sends."""
            traced.clear()
            await asyncio.gather(*(ctx.messages.send(bob, rid, f"m{i}", **fields) for i in range(30)))
            other = [sql for sql in traced if not sql.startswith("INSERT INTO events")]
            return (sum(sql.startswith("BEGIN") for sql in other), len(other),
                    sum("seq IN (" in sql for sql in other), sum("thread_root IN (" in sql for sql in other))

        plain, replies, threaded = await batch(), await batch(reply_to=root.seq), await batch(thread_root=root.seq)
        assert plain[2:] == (0, 0)
        per_batch = plain[1] / plain[0]
        assert replies[2:] == (replies[0], 0) and replies[1] == replies[0] * (per_batch + 1)
        assert threaded[2:] == (threaded[0], threaded[0]) and threaded[1] == threaded[0] * (per_batch + 2)
    finally:
        await close_context(ctx)
