"""Privacy at the service level: what each membership state may read and do, on a private room and a
direct chat. Only joined members read; invited people see the room in their list and nothing more;
a member who left reads the history up to their leave and nothing after it (issue 10); everyone
else gets not_found, exactly as for a room that does not exist."""

from __future__ import annotations

import pytest

from parley.core.errors import NotFound
from parley.core.models import MemberState, User
from parley.web.context import Context
from tests.contract.helpers import log_rows, outcome, register, set_state

NO_ACCESS = {"get": "not_found", "members": "not_found", "history": "not_found", "send": "not_found",
             "mark_read": "not_found", "typing": "not_found", "invite": "not_found", "mine": None,
             "public": False}
EXPECTED = {
    "never": NO_ACCESS,
    "left": NO_ACCESS,  # a member_left event in the log (a leave) gives back the history up to it
    "invited": {**NO_ACCESS, "get": "ok", "mine": "invited"},
    # Joined members read and post; a plain member may not invite to a private room or a direct chat.
    "joined": {"get": "ok", "members": "ok", "history": "ok", "send": "ok", "mark_read": "ok",
               "typing": "ok", "invite": "forbidden", "mine": "joined", "public": False},
}


async def _access(ctx: Context, user: User, rid: int) -> dict[str, object]:
    mine = {r["id"]: r for r in await ctx.rooms.mine(user)}
    return {
        "get": await outcome(ctx.rooms.get(user, rid)),
        "members": await outcome(ctx.rooms.members(user, rid)),
        "history": await outcome(ctx.messages.history(user, rid)),
        "send": await outcome(ctx.messages.send(user, rid, f"from {user.username}")),
        "mark_read": await outcome(ctx.messages.mark_read(user, rid, 1)),
        "typing": await outcome(ctx.messages.typing(user, rid)),
        "invite": await outcome(ctx.rooms.invite(user, rid, ["zed"])),
        "mine": mine[rid]["my_state"] if rid in mine else None,
        "public": rid in [r["id"] for r in await ctx.rooms.public()],
    }


async def _check(ctx: Context, rid: int, people: dict[str, User], left_reads: bool = False) -> None:
    await ctx.hub.start()
    secret = "the secret plan"
    owner_msg, _ = await ctx.messages.send(people["joined"], rid, secret)
    outsiders = {state: user for state, user in people.items() if state != "joined"}
    seen = {state: await _access(ctx, user, rid) for state, user in people.items()}
    expected = {state: EXPECTED[state] for state in people}
    if left_reads:
        expected["left"] = {**NO_ACCESS, "history": "ok"}
        page = await ctx.messages.history(people["left"], rid)
        texts = [m.get("text") for m in page["messages"]]
        assert "before leaving" in texts and secret not in texts and page["messages"][-1]["type"] == "member_left"
    assert seen == expected

    # What an invited person may see of the room: its card, not its content.
    if "invited" in people:
        card = await ctx.rooms.get(people["invited"], rid)
        assert (card["my_state"], card["id"]) == ("invited", rid)
        assert secret not in repr(card)

    # Nothing an outsider tried was stored; the joined member's message was.
    rows = [r for r in await log_rows(ctx, rid) if r.seq >= owner_msg.seq]
    assert [(r.type, r.sender_id, r.text) for r in rows] == [
        ("message", people["joined"].id, secret), ("message", people["joined"].id, "from joined")]

    # A room one may not see refuses exactly as a room that does not exist.
    missing = 987654
    for user in outsiders.values():
        reads = [] if left_reads and user is people["left"] else [
            (ctx.messages.history(user, rid), ctx.messages.history(user, missing))]
        for call, ghost in [*reads,
                            (ctx.messages.send(user, rid, "x"), ctx.messages.send(user, missing, "x")),
                            (ctx.rooms.members(user, rid), ctx.rooms.members(user, missing))]:
            with pytest.raises(NotFound) as real:
                await call
            with pytest.raises(NotFound) as fake:
                await ghost
            assert real.value.message == fake.value.message

    # The list and the room agree; an invitation shows no count of messages one may not read yet.
    for state in ("joined", "invited"):
        if state in people:
            listed = next(r for r in await ctx.rooms.mine(people[state]) if r["id"] == rid)
            assert listed == await ctx.rooms.get(people[state], rid), state
    if "invited" in people:
        assert (listed["unread"], listed["mentions"]) == (None, None)


async def test_private_room_by_membership_state(ctx: Context) -> None:
    owner, never, invited, joined, left, _zed = await register(ctx, "owner", "never", "invited", "joined",
                                                               "left", "zed")
    rid = (await ctx.rooms.create(owner, "secret", visibility="private"))["id"]
    await ctx.rooms.invite(owner, rid, ["invited", "joined", "left"])
    await ctx.rooms.join(joined, rid)
    await ctx.rooms.join(left, rid)
    await ctx.messages.send(left, rid, "before leaving")
    await ctx.rooms.leave(left, rid)
    await _check(ctx, rid, {"never": never, "invited": invited, "joined": joined, "left": left}, left_reads=True)
    listed = {m["user"]["username"]: m["state"] for m in await ctx.rooms.members(owner, rid)}
    assert listed == {"owner": "joined", "joined": "joined", "invited": "invited"}


async def test_direct_chat_by_membership_state(ctx: Context) -> None:
    """Direct chats take no invites and cannot be left through the services, so the invited and left
    states are written to the store directly (as a future feature or a bad migration might)."""
    ann, joined, invited, left, never, _zed = await register(ctx, "ann", "joined", "invited", "left",
                                                             "never", "zed")
    chat, _ = await ctx.rooms.direct(ann, ["joined", "invited", "left"])
    rid = chat["id"]
    await ctx.messages.send(left, rid, "before leaving")
    await set_state(ctx, rid, invited, MemberState.INVITED)
    await set_state(ctx, rid, left, MemberState.LEFT)
    await _check(ctx, rid, {"never": never, "invited": invited, "joined": joined, "left": left})

    # Starting a chat with a participant creates a new one; it reveals nothing of theirs.
    own, created = await ctx.rooms.direct(never, ["ann"])
    assert created and own["id"] != rid
    assert [m["type"] for m in (await ctx.messages.history(never, own["id"]))["messages"]] == [
        "room_created", "member_joined", "member_joined"]
    assert [r["id"] for r in await ctx.rooms.mine(never)] == [own["id"]]
