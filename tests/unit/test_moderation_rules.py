"""parley.core.moderation: the who-may-do-what table of docs/protocol.md, and what a member may post."""

from __future__ import annotations

import pytest

from parley.core import moderation as rules
from parley.core.errors import Forbidden, Invalid, NotFound
from parley.core.models import Membership, MemberState, PostPolicy, Role, Room, RoomKind, User, Visibility

ACTOR, TARGET = 1, 2


def room(*, kind: str = "room", archived: bool = False, slow: int = 0, policy: str = "everyone") -> Room:
    return Room(7, RoomKind(kind), "general", "", Visibility.PUBLIC, archived, 1, 5, slow, PostPolicy(policy))


def member(user_id: int, role: Role, state: str = "joined", muted_until: int | None = None) -> Membership:
    return Membership(7, user_id, role, MemberState(state), 0, 1, muted_until)


def user(admin: bool = False) -> User:
    return User(ACTOR, "ann", "Ann", admin, False, 1)


ACTIONS = [rules.require_kick, rules.require_ban, rules.require_mute, rules.require_unmute]


@pytest.mark.parametrize("check", ACTIONS)
@pytest.mark.parametrize("actor", list(Role))
@pytest.mark.parametrize("target", list(Role))
def test_moderators_and_up_act_on_strictly_lower_roles(check, actor: Role, target: Role) -> None:
    call = lambda: check(user(), room(), member(ACTOR, actor), TARGET, member(TARGET, target))  # noqa: E731
    if actor >= Role.MODERATOR and target < actor:
        assert call().id == 7
    else:
        with pytest.raises(Forbidden):
            call()


@pytest.mark.parametrize("check", ACTIONS)
def test_server_admins_act_on_anyone_member_or_not_but_never_in_direct_chats(check) -> None:
    assert check(user(admin=True), room(), None, TARGET, member(TARGET, Role.OWNER))
    with pytest.raises(Forbidden):
        check(user(admin=True), room(kind="direct"), member(ACTOR, Role.MEMBER), TARGET, member(TARGET, Role.MEMBER))
    with pytest.raises(NotFound):  # a direct chat one is not in does not exist, for a server admin too
        check(user(admin=True), room(kind="direct"), None, TARGET, member(TARGET, Role.MEMBER))
    with pytest.raises(Forbidden):  # nobody moderates themselves
        check(user(admin=True), room(), member(ACTOR, Role.OWNER), ACTOR, member(ACTOR, Role.OWNER))
    with pytest.raises(Forbidden):
        check(user(), room(archived=True), member(ACTOR, Role.OWNER), TARGET, member(TARGET, Role.MEMBER))


@pytest.mark.parametrize("check", ACTIONS)
@pytest.mark.parametrize("state", [None, "invited", "left"])
def test_someone_not_joined_may_not_moderate_and_learns_nothing(check, state: str | None) -> None:
    mine = None if state is None else member(ACTOR, Role.OWNER, state)
    with pytest.raises(NotFound):
        check(user(), room(), mine, TARGET, member(TARGET, Role.MEMBER))
    with pytest.raises(NotFound):
        check(user(), None, member(ACTOR, Role.OWNER), TARGET, member(TARGET, Role.MEMBER))


def test_kick_and_mute_need_a_member_ban_does_not() -> None:
    mod = member(ACTOR, Role.MODERATOR)
    for check in (rules.require_kick, rules.require_mute):
        with pytest.raises(NotFound):
            check(user(), room(), mod, TARGET, None)
    rules.require_ban(user(), room(), mod, TARGET, None)  # ahead of a raid
    rules.require_ban(user(), room(), mod, TARGET, member(TARGET, Role.ADMIN, "left"))  # a role counts while in
    rules.require_unban(user(), room(), mod, TARGET)
    with pytest.raises(Forbidden):
        rules.require_unban(user(), room(), member(ACTOR, Role.MEMBER), TARGET)


def test_what_a_member_may_post() -> None:
    now = 10_000
    rules.require_sender(room(), member(TARGET, Role.MEMBER, muted_until=now), now)  # the mute just ended
    with pytest.raises(Forbidden) as muted:
        rules.require_sender(room(), member(TARGET, Role.MODERATOR, muted_until=now + 1500), now)
    assert muted.value.code == "muted" and "2 more seconds" in muted.value.message
    announcements = room(policy="moderators")
    with pytest.raises(Forbidden):
        rules.require_sender(announcements, member(TARGET, Role.MEMBER), now)
    rules.require_sender(announcements, member(TARGET, Role.MODERATOR), now)
    assert rules.slowed(room(slow=30), member(TARGET, Role.MEMBER))
    assert not rules.slowed(room(slow=30), member(TARGET, Role.MODERATOR))
    assert not rules.slowed(room(), member(TARGET, Role.MEMBER))


def test_fields() -> None:
    assert rules.until(1000, 60, required=True) == 61_000
    assert rules.until(1000, None, required=False) is None
    for bad in (0, -1, True, 1.5, rules.DURATION_MAX_S + 1):
        with pytest.raises(Invalid):
            rules.until(0, bad, required=False)  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        rules.until(0, None, required=True)
    assert rules.slow_mode(0) == 0 and rules.post_policy("moderators") is PostPolicy.MODERATORS
    for bad_value in (-1, rules.SLOW_MODE_MAX_S + 1, "30", None):
        with pytest.raises(Invalid):
            rules.slow_mode(bad_value)
    with pytest.raises(Invalid):
        rules.post_policy("admins")
    assert rules.slow_mode_refusal(12.2, 30).retry_after == 12.2
