"""Room moderation (issue 11) on SQLite and PostgreSQL: kick, ban, mute, slow mode, post policy and
purge; who may do each; and the events and audit entries they leave."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from parley.core.errors import RateLimited
from parley.core.models import User
from parley.store.tables import events, members, room_bans
from parley.web.context import Context
from tests.contract.helpers import outcome, register


async def _room(ctx: Context, owner: User, *others: User, name: str = "moderated", **roles: str) -> int:
    rid = (await ctx.rooms.create(owner, name))["id"]
    for user in others:
        await ctx.rooms.join(user, rid)
        if user.username in roles:
            await ctx.rooms.set_role(owner, rid, user.id, roles[user.username])
    return rid


async def _log(ctx: Context, rid: int, after: int = 0) -> list[dict]:
    return [e.wire() for e in await ctx.messages.replay(rid, after)]


async def _state(ctx: Context, rid: int, user: User) -> str:
    async with ctx.db.read() as conn:
        return await conn.scalar(sa.select(members.c.state).where(members.c.room_id == rid,
                                                                 members.c.user_id == user.id)) or "none"


async def _actions(ctx: Context, reader: User, rid: int) -> list[str]:
    return [e["action"] for e in (await ctx.audit.entries(reader, room=rid))["entries"]]


async def test_who_may_moderate_whom(ctx: Context) -> None:
    root, own, adm, mod, mem, other = await register(ctx, "root", "own", "adm", "mod", "mem", "other")
    rid = await _room(ctx, own, adm, mod, mem, other, adm="admin", mod="moderator")
    kick = ctx.moderation.kick
    assert await outcome(kick(mem, rid, other.id)) == "forbidden"  # a member moderates no one
    assert await outcome(kick(mod, rid, adm.id)) == "forbidden"  # only lower roles
    assert await outcome(kick(mod, rid, mod.id)) == "forbidden"  # nor oneself
    assert await outcome(ctx.moderation.mute(mod, rid, own.id, 60)) == "forbidden"
    assert await outcome(ctx.moderation.ban(adm, rid, own.id)) == "forbidden"
    outsider = (await register(ctx, "outsider"))[0]
    assert await outcome(kick(outsider, rid, mem.id)) == "not_found"  # not a member: no such room
    assert await outcome(kick(mod, rid, outsider.id)) == "not_found"  # kicks members only
    assert await outcome(kick(mod, rid, 99999)) == "not_found"
    assert await outcome(kick(mod, 99999, mem.id)) == "not_found"
    before = (await ctx.rooms.get(own, rid))["last_seq"]
    await kick(mod, rid, mem.id, "spamming")
    (event,) = await _log(ctx, rid, before)
    assert event["type"] == "member_kicked" and event["sender"]["id"] == mod.id
    assert (event["user"]["id"], event["by"]["id"], event["reason"], event["until"]) == (mem.id, mod.id, "spamming", None)
    assert await outcome(ctx.messages.history(mem, rid)) == "not_found"
    (entry,) = (await ctx.audit.entries(own, room=rid, action="kick"))["entries"]
    assert (entry["actor"]["id"], entry["target"]["id"], entry["reason"]) == (mod.id, mem.id, "spamming")
    await ctx.moderation.ban(adm, rid, mod.id, "power trip")  # an admin over a moderator
    await kick(root, rid, own.id)  # a server admin over anyone, member or not
    assert [await _state(ctx, rid, u) for u in (mem, mod, own)] == ["left"] * 3
    direct, _ = await ctx.rooms.direct(adm, [other.username])
    for call in (kick(adm, direct["id"], other.id), ctx.moderation.ban(adm, direct["id"], other.id),
                 ctx.moderation.mute(adm, direct["id"], other.id, 60)):
        assert await outcome(call) == "forbidden"  # no moderation in direct chats
    assert await outcome(kick(root, direct["id"], other.id)) == "not_found"  # not in it: no such room
    assert await outcome(ctx.moderation.mute(adm, rid, other.id, 0)) == "invalid"
    assert await outcome(ctx.moderation.kick(adm, rid, other.id, "\u202eevil")) == "invalid"
    await ctx.rooms.join(mem, rid)  # a kick is not a ban
    assert await _state(ctx, rid, mem) == "joined"


async def test_a_ban_keeps_out_until_it_ends_or_is_lifted(ctx: Context) -> None:
    _, ann, bob, cat = await register(ctx, "root", "ann", "bob", "cat")
    rid = await _room(ctx, ann, bob)
    private = await _room(ctx, ann, name="inner")
    ban = await ctx.moderation.ban(ann, rid, bob.id, "raid", duration_s=86400)
    assert ban["until"] - ban["created_at"] == 86_400_000 and ban["user"]["id"] == bob.id
    event = (await _log(ctx, rid))[-1]
    assert (event["type"], event["user"]["id"], event["until"]) == ("member_banned", bob.id, ban["until"])
    assert await _state(ctx, rid, bob) == "left"
    assert await outcome(ctx.rooms.join(bob, rid)) == "banned"
    assert await outcome(ctx.rooms.invite(ann, rid, ["bob", "cat"])) == "banned"  # nothing half-done
    assert await _state(ctx, rid, cat) == "none"
    await ctx.moderation.ban(ann, private, cat.id)  # not a member: banned ahead, for good
    assert await outcome(ctx.rooms.invite(ann, private, ["cat"])) == "banned"
    listed = await ctx.moderation.bans(ann, rid)
    assert [(b["user"]["id"], b["by"]["id"], b["reason"]) for b in listed] == [(bob.id, ann.id, "raid")]
    assert await outcome(ctx.moderation.bans(cat, rid)) == "not_found"
    # An ended ban stops counting, with nothing to sweep it.
    async with ctx.db.write() as conn:
        await conn.execute(room_bans.update().where(room_bans.c.room_id == rid).values(until=1))
    assert await ctx.moderation.bans(ann, rid) == []
    await ctx.rooms.join(bob, rid)
    await ctx.moderation.ban(ann, rid, bob.id)  # again, for good
    await ctx.moderation.unban(ann, rid, bob.id)
    assert (await _log(ctx, rid))[-1]["type"] == "member_unbanned"
    assert await outcome(ctx.moderation.unban(ann, rid, bob.id)) == "not_found"
    await ctx.rooms.join(bob, rid)
    assert await _actions(ctx, ann, rid) == ["unban", "ban", "ban"]


async def test_mute_slow_mode_and_post_policy(ctx: Context) -> None:
    _, ann, bob, mod = await register(ctx, "root", "ann", "bob", "mod")
    rid = await _room(ctx, ann, bob, mod, mod="moderator")
    said, _ = await ctx.messages.send(bob, rid, "before the mute")
    muted = await ctx.moderation.mute(mod, rid, bob.id, 600, "cool down")
    event = (await _log(ctx, rid))[-1]
    assert (event["type"], event["until"], event["reason"]) == ("member_muted", muted["until"], "cool down")
    assert (await ctx.rooms.get(bob, rid))["my_muted_until"] == muted["until"]
    assert await outcome(ctx.messages.send(bob, rid, "let me speak")) == "muted"
    assert await outcome(ctx.messages.typing(bob, rid)) == "muted"
    assert await outcome(ctx.actions.edit(bob, rid, said.seq, "edited to say it anyway")) == "muted"
    assert (await ctx.messages.history(bob, rid))["messages"]  # still reads
    await ctx.rooms.leave(bob, rid)
    await ctx.rooms.join(bob, rid)
    assert await outcome(ctx.messages.send(bob, rid, "rejoined")) == "muted"  # leaving does not shed it
    await ctx.moderation.unmute(mod, rid, bob.id)
    assert (await _log(ctx, rid))[-1]["type"] == "member_unmuted"
    await ctx.messages.send(bob, rid, "thanks")
    assert await outcome(ctx.moderation.unmute(mod, rid, bob.id)) == "not_found"
    await ctx.moderation.mute(mod, rid, bob.id, 600)
    async with ctx.db.write() as conn:  # the mute ends: nothing sweeps it, it stops counting
        await conn.execute(members.update().where(members.c.user_id == bob.id).values(muted_until=1))
    await ctx.messages.send(bob, rid, "free again")
    assert await _actions(ctx, ann, rid) == ["mute", "unmute", "mute", "set_role"]
    # Slow mode and the post policy, set by admins and up.
    assert await outcome(ctx.rooms.update(mod, rid, {"slow_mode_s": 30})) == "forbidden"  # admins and up
    assert await outcome(ctx.rooms.update(ann, rid, {"slow_mode_s": -1})) == "invalid"
    room = await ctx.rooms.update(ann, rid, {"slow_mode_s": 30})
    assert room["slow_mode_s"] == 30
    assert (await _log(ctx, rid))[-1]["changes"] == {"slow_mode_s": 30}
    await ctx.messages.send(bob, rid, "one")
    with pytest.raises(RateLimited) as slowed:
        await ctx.messages.send(bob, rid, "two")
    assert 28 < slowed.value.retry_after <= 30 and "30 s" in slowed.value.message
    for text in ("mods", "are", "not slowed"):
        await ctx.messages.send(mod, rid, text)
    await ctx.rooms.update(ann, rid, {"slow_mode_s": 0, "post_policy": "moderators"})
    assert (await ctx.rooms.get(bob, rid))["post_policy"] == "moderators"
    assert await outcome(ctx.messages.send(bob, rid, "may I?")) == "forbidden"
    await ctx.messages.send(mod, rid, "announcement")
    await ctx.rooms.update(ann, rid, {"post_policy": "everyone"})
    await ctx.messages.send(bob, rid, "back to normal")
    assert [e["data"]["changes"] for e in (await ctx.audit.entries(ann, room=rid, action="room_settings"))["entries"]] \
        == [{"post_policy": "everyone"}, {"slow_mode_s": 0, "post_policy": "moderators"}, {"slow_mode_s": 30}]


async def test_purge_deletes_a_users_recent_messages_everywhere(ctx: Context) -> None:
    root, ann, spam = await register(ctx, "root", "ann", "spam")
    one = await _room(ctx, ann, spam, name="one")
    two = await _room(ctx, ann, spam, name="two")
    old, _ = await ctx.messages.send(spam, one, "from last month")
    async with ctx.db.write() as conn:
        await conn.execute(events.update().where(events.c.id == old.id).values(ts=old.ts - 7 * 86_400_000))
    sent = [(await ctx.messages.send(spam, rid, f"buy now {rid}"))[0] for rid in (one, two, two)]
    keep, _ = await ctx.messages.send(ann, two, "not spam")
    assert await outcome(ctx.moderation.purge(ann, spam.id, 3600)) == "forbidden"
    assert await ctx.moderation.purge(root, spam.id, 3600) == {"deleted": 3, "rooms": 2}
    for rid in (one, two):
        page = {m["seq"]: m for m in (await ctx.messages.history(ann, rid))["messages"]}
        assert all(page[m.seq].get("deleted") for m in sent if m.room_id == rid)
        deletions = [e for e in await _log(ctx, rid) if e["type"] == "message_deleted"]
        assert {e["by"] for e in deletions} == {root.id}
    kept = [m for rid in (one, two) for m in (await ctx.messages.history(ann, rid))["messages"]
            if m["type"] == "message" and not m.get("deleted")]
    assert [(m["seq"], m["text"]) for m in kept] == [(old.seq, "from last month"), (keep.seq, "not spam")]
    entries = (await ctx.audit.entries(root, action="purge_messages"))["entries"]
    assert sorted((e["room"]["id"], e["data"]["count"]) for e in entries) == [(one, 1), (two, 2)]
    assert await ctx.moderation.purge(root, spam.id, 3600) == {"deleted": 0, "rooms": 0}  # done already
