"""parley.core.permissions: roles and who may see, join, read and post, per membership state."""

from __future__ import annotations

import pytest

from parley.core import permissions as perm
from parley.core.errors import Conflict, Forbidden, NotFound
from parley.core.models import Membership, MemberState, Role, Room, RoomKind, User, Visibility


def room(visibility: str = "public", *, kind: str = "room", archived: bool = False) -> Room:
    return Room(id=7, kind=RoomKind(kind), name="general" if kind == "room" else "", topic="",
                visibility=Visibility(visibility), archived=archived, created_at=1, last_seq=5)


def member(state: str | None, role: Role = Role.MEMBER) -> Membership | None:
    if state is None:
        return None
    return Membership(room_id=7, user_id=1, role=role, state=MemberState(state), read_seq=0, joined_seq=1)


STATES = [None, "invited", "joined", "left"]


def test_role_ranks() -> None:
    assert Role.OWNER > Role.ADMIN > Role.MODERATOR > Role.MEMBER
    assert [r.label for r in sorted(Role, reverse=True)] == ["owner", "admin", "moderator", "member"]
    for r in Role:
        assert Role.parse(r.label) is r
        assert Role.parse(r.label.upper()) is r
    with pytest.raises(KeyError):
        Role.parse("superuser")


@pytest.mark.parametrize(("state", "expected"), [(None, True), ("invited", True), ("joined", True), ("left", True)])
def test_can_see_public_room_always(state: str | None, expected: bool) -> None:
    assert perm.can_see(room("public"), member(state)) is expected


@pytest.mark.parametrize(("state", "expected"), [(None, False), ("invited", True), ("joined", True), ("left", False)])
def test_can_see_private_room_only_invited_or_joined(state: str | None, expected: bool) -> None:
    assert perm.can_see(room("private"), member(state)) is expected


@pytest.mark.parametrize(("state", "expected"), [(None, False), ("invited", True), ("joined", True), ("left", False)])
def test_can_see_direct_room_only_participants(state: str | None, expected: bool) -> None:
    assert perm.can_see(room("private", kind="direct"), member(state)) is expected
    # a direct chat is not public, whatever its visibility column says
    assert perm.can_see(room("public", kind="direct"), member(state)) is expected


@pytest.mark.parametrize(("state", "expected"), [(None, True), ("invited", True), ("joined", True), ("left", True)])
def test_can_join_public(state: str | None, expected: bool) -> None:
    assert perm.can_join(room("public"), member(state)) is expected


@pytest.mark.parametrize(("state", "expected"), [(None, False), ("invited", True), ("joined", False), ("left", False)])
def test_can_join_private_only_when_invited(state: str | None, expected: bool) -> None:
    assert perm.can_join(room("private"), member(state)) is expected


@pytest.mark.parametrize("state", STATES)
def test_cannot_join_archived_or_direct_rooms(state: str | None) -> None:
    assert perm.can_join(room("public", archived=True), member(state)) is False
    assert perm.can_join(room("private", archived=True), member(state)) is False
    assert perm.can_join(room("private", kind="direct"), member(state)) is False


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("state", [None, "invited", "left"])
def test_require_reader_refuses_non_joined_as_not_found(visibility: str, state: str | None) -> None:
    with pytest.raises(NotFound) as info:
        perm.require_reader(room(visibility), member(state))
    assert info.value.status == 404
    # indistinguishable from a room that does not exist
    with pytest.raises(NotFound) as missing:
        perm.require_reader(None, member(state))
    assert missing.value.message == info.value.message


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_require_reader_lets_joined_members_read(visibility: str) -> None:
    r = room(visibility)
    assert perm.require_reader(r, member("joined")) is r


def test_archived_room_is_readable_but_read_only() -> None:
    r = room("public", archived=True)
    assert perm.require_reader(r, member("joined")) is r
    with pytest.raises(Forbidden, match="archived"):
        perm.require_poster(r, member("joined"))


def test_require_poster() -> None:
    r = room("private")
    assert perm.require_poster(r, member("joined")) is r
    for state in (None, "invited", "left"):
        with pytest.raises(NotFound):
            perm.require_poster(r, member(state))


@pytest.mark.parametrize("have", list(Role))
@pytest.mark.parametrize("need", list(Role))
def test_require_role(have: Role, need: Role) -> None:
    m = member("joined", have)
    assert m is not None
    if have >= need:
        perm.require_role(m, need, "renaming")
    else:
        with pytest.raises(Forbidden, match=f"renaming needs the {need.label} role or higher"):
            perm.require_role(m, need, "renaming")


def test_invite_role_members_for_public_moderators_for_private() -> None:
    assert perm.invite_role(room("public")) is Role.MEMBER
    assert perm.invite_role(room("private")) is Role.MODERATOR


def _as(user_id: int, role: Role) -> Membership:
    return Membership(room_id=7, user_id=user_id, role=role, state=MemberState.JOINED, read_seq=0, joined_seq=1)


@pytest.mark.parametrize("actor", list(Role))
@pytest.mark.parametrize("target", list(Role))
@pytest.mark.parametrize("new_role", list(Role))
def test_require_role_change_matrix(actor: Role, target: Role, new_role: Role) -> None:
    """Admins and owners change the roles of members below them, to roles below their own."""
    allowed = actor >= Role.ADMIN and target < actor and new_role < actor
    if allowed:
        perm.require_role_change(_as(1, actor), _as(2, target), new_role)
    else:
        with pytest.raises(Forbidden):
            perm.require_role_change(_as(1, actor), _as(2, target), new_role)


@pytest.mark.parametrize("role", list(Role))
def test_nobody_changes_their_own_role(role: Role) -> None:
    with pytest.raises(Forbidden, match="your own role"):
        perm.require_role_change(_as(1, role), _as(1, role), Role.MEMBER)


def test_role_change_refusals_say_why() -> None:
    with pytest.raises(Forbidden, match="changing roles needs the admin role"):
        perm.require_role_change(_as(1, Role.MODERATOR), _as(2, Role.MEMBER), Role.MEMBER)
    with pytest.raises(Forbidden, match="below admin"):
        perm.require_role_change(_as(1, Role.ADMIN), _as(2, Role.ADMIN), Role.MEMBER)
    with pytest.raises(Forbidden, match="below owner"):
        perm.require_role_change(_as(1, Role.OWNER), _as(2, Role.ADMIN), Role.OWNER)


def _user(is_admin: bool = False) -> User:
    return User(id=1, username="ann", display_name="Ann", is_admin=is_admin, disabled=False, created_at=1)


@pytest.mark.parametrize(("role", "others", "owners", "refused"), [
    (Role.OWNER, 1, 0, True),  # the last owner, others still in: hand ownership over first
    (Role.OWNER, 0, 0, False),  # alone
    (Role.OWNER, 2, 1, False),  # another owner stays
    (Role.ADMIN, 3, 0, False),
    (Role.MEMBER, 3, 1, False),
])
def test_the_last_owner_cannot_leave_others_behind(role: Role, others: int, owners: int, refused: bool) -> None:
    if refused:
        with pytest.raises(Conflict) as info:
            perm.require_leave(room(), member("joined", role), others, owners)
        assert info.value.status == 409 and "owner" in info.value.message
    else:
        perm.require_leave(room(), member("joined", role), others, owners)
    perm.require_leave(room(), member("invited", Role.OWNER), 5, 0)  # declining is always allowed
    with pytest.raises(Forbidden):
        perm.require_leave(room("private", kind="direct"), member("joined"), 1, 0)


def test_only_the_owner_or_a_server_admin_names_an_owner() -> None:
    target = Membership(room_id=7, user_id=2, role=Role.MEMBER, state=MemberState.JOINED, read_seq=0, joined_seq=1)
    perm.require_ownership_transfer(_user(), room(), member("joined", Role.OWNER), target)
    perm.require_ownership_transfer(_user(is_admin=True), room(), None, target)
    with pytest.raises(Forbidden):
        perm.require_ownership_transfer(_user(), room(), member("joined", Role.ADMIN), target)
    with pytest.raises(NotFound):
        perm.require_ownership_transfer(_user(), room(), None, target)
    with pytest.raises(Forbidden):  # already the owner
        perm.require_ownership_transfer(_user(), room(), member("joined", Role.OWNER), member("joined", Role.OWNER))


@pytest.mark.parametrize("state", STATES)
def test_a_server_admin_opens_any_room_but_no_direct_chat(state: str | None) -> None:
    for visibility in ("public", "private"):
        assert perm.require_settings_reader(_user(is_admin=True), room(visibility), member(state)) is not None
        perm.require_room_edit(_user(is_admin=True), room(visibility), member(state), {"name", "archived"})
    if state != "joined":
        with pytest.raises(NotFound):
            perm.require_settings_reader(_user(), room("private"), member(state))
        with pytest.raises(NotFound):
            perm.require_settings_reader(_user(is_admin=True), room("private", kind="direct"), member(state))


def test_room_edits_need_admin_and_archive_needs_owner() -> None:
    perm.require_room_edit(_user(), room(), member("joined", Role.ADMIN), {"name", "topic"})
    with pytest.raises(Forbidden):
        perm.require_room_edit(_user(), room(), member("joined", Role.MODERATOR), {"topic"})
    with pytest.raises(Forbidden):
        perm.require_room_edit(_user(), room(), member("joined", Role.ADMIN), {"archived"})
    perm.require_room_edit(_user(), room(), member("joined", Role.OWNER), {"archived"})
