"""The audit log (issue 11) on SQLite and PostgreSQL: entries written with the actions they record,
and who reads which."""

from __future__ import annotations

import pytest

from parley.core.errors import Forbidden, NotFound
from parley.store import audit as audit_store
from parley.web.context import Context
from tests.contract.helpers import outcome, register


async def test_role_settings_and_deletions_are_recorded_for_the_rooms_admins(ctx: Context) -> None:
    root, ann, bob, cat = await register(ctx, "root", "ann", "bob", "cat")  # root: the server admin
    rid = (await ctx.rooms.create(ann, "audited"))["id"]
    other = (await ctx.rooms.create(cat, "elsewhere"))["id"]
    for user in (bob, cat):
        await ctx.rooms.join(user, rid)
    await ctx.rooms.set_role(ann, rid, bob.id, "moderator")
    await ctx.rooms.update(ann, rid, {"topic": "rules apply"})
    mine, _ = await ctx.messages.send(bob, rid, "my own")
    theirs, _ = await ctx.messages.send(cat, rid, "spam spam")
    await ctx.actions.delete(bob, rid, mine.seq)  # one's own: not a moderation action
    await ctx.actions.delete(bob, rid, theirs.seq)
    await ctx.rooms.update(cat, other, {"topic": "not ann's business"})

    page = await ctx.audit.entries(ann, room=rid)
    assert [e["action"] for e in page["entries"]] == ["delete_message", "room_settings", "set_role"]
    deleted, settings, role = page["entries"]
    assert deleted["actor"]["id"] == bob.id and deleted["target"]["id"] == cat.id
    assert deleted["data"] == {"seq": theirs.seq} and deleted["room"] == {"id": rid, "name": "audited"}
    assert settings["data"] == {"changes": {"topic": "rules apply"}} and settings["target"] is None
    assert role["target"]["username"] == "bob" and role["data"] == {"role": "moderator", "previous": "member"}
    assert role["ts"] > 0 and role["reason"] == "" and page["has_more"] is False
    # Without a room: the rooms ann administers; the server admin sees everything.
    assert {e["room"]["id"] for e in (await ctx.audit.entries(ann))["entries"]} == {rid}
    assert len((await ctx.audit.entries(root))["entries"]) == 4
    assert [e["action"] for e in (await ctx.audit.entries(root, actor=bob.id))["entries"]] == ["delete_message"]
    assert [e["id"] for e in (await ctx.audit.entries(root, action="set_role"))["entries"]] == [role["id"]]
    # Paging newest first by id.
    first = await ctx.audit.entries(ann, room=rid, limit=2)
    assert first["has_more"] is True and len(first["entries"]) == 2
    rest = await ctx.audit.entries(ann, room=rid, before=first["entries"][-1]["id"])
    assert [e["id"] for e in rest["entries"]] == [role["id"]] and rest["has_more"] is False


async def test_who_may_read_the_log(ctx: Context) -> None:
    root, ann, bob, eve = await register(ctx, "root", "ann", "bob", "eve")
    rid = (await ctx.rooms.create(ann, "watched"))["id"]
    private = (await ctx.rooms.create(ann, "secret", visibility="private"))["id"]
    await ctx.rooms.join(bob, rid)
    await ctx.rooms.set_role(ann, rid, bob.id, "moderator")
    assert await outcome(ctx.audit.entries(bob, room=rid)) == "forbidden"  # a moderator: not the log
    assert await outcome(ctx.audit.entries(bob)) == "forbidden"  # administers no room
    assert await outcome(ctx.audit.entries(eve, room=rid)) == "not_found"  # public, but not a member
    assert await outcome(ctx.audit.entries(eve, room=private)) == "not_found"
    assert await outcome(ctx.audit.entries(ann, room=99999)) == "not_found"
    assert len((await ctx.audit.entries(root, room=private))["entries"]) == 0  # a server admin: any room
    await ctx.rooms.set_role(ann, rid, bob.id, "admin")
    assert len((await ctx.audit.entries(bob, room=rid))["entries"]) == 2  # now an admin: both changes
    with pytest.raises(Forbidden):
        await ctx.audit.entries(eve)
    with pytest.raises(NotFound):
        await ctx.audit.entries(bob, room=private)


async def test_an_entry_commits_or_fails_with_its_action(ctx: Context) -> None:
    _, ann = await register(ctx, "root", "ann")
    rid = (await ctx.rooms.create(ann, "atomic"))["id"]
    assert await outcome(ctx.rooms.update(ann, rid, {"topic": "\x07bell"})) == "invalid"
    with pytest.raises(ValueError, match="unknown audit action"):
        async with ctx.db.write() as conn:
            await audit_store.record(conn, actor_id=ann.id, action="nonsense", room_id=rid, now=1)
    assert (await ctx.audit.entries(ann, room=rid))["entries"] == []
