"""Who may do what in a room. Pure functions over roles and room state."""

from __future__ import annotations

from parley.core.errors import Forbidden, NotFound
from parley.core.models import Membership, MemberState, Role, Room, RoomKind, Visibility


def can_see(room: Room, membership: Membership | None) -> bool:
    """Whether a user may learn that the room exists (its name, topic, member count)."""
    if room.visibility is Visibility.PUBLIC and room.kind is RoomKind.ROOM:
        return True
    return membership is not None and membership.state in (MemberState.JOINED, MemberState.INVITED)


def require_reader(room: Room | None, membership: Membership | None) -> Room:
    """History, members and events are for joined members only; all else looks like no room."""
    if room is None or membership is None or membership.state is not MemberState.JOINED:
        raise NotFound("no such room, or you are not a member of it")
    return room


def require_poster(room: Room | None, membership: Membership | None) -> Room:
    room = require_reader(room, membership)
    if room.archived:
        raise Forbidden("the room is archived and read-only")
    return room


def require_role(membership: Membership, role: Role, action: str) -> None:
    if membership.role < role:
        raise Forbidden(f"{action} needs the {role.label} role or higher")


def invite_role(room: Room) -> Role:
    return Role.MEMBER if room.visibility is Visibility.PUBLIC else Role.MODERATOR


def can_join(room: Room, membership: Membership | None) -> bool:
    if room.archived or room.kind is RoomKind.DIRECT:
        return False
    if room.visibility is Visibility.PUBLIC:
        return True
    return membership is not None and membership.state is MemberState.INVITED


def require_role_change(actor: Membership, target: Membership, new_role: Role) -> None:
    """Admins and owners change the roles of members below them, to roles below their own."""
    if actor.user_id == target.user_id:
        raise Forbidden("you cannot change your own role")
    require_role(actor, Role.ADMIN, "changing roles")
    if target.role >= actor.role or new_role >= actor.role:
        raise Forbidden(f"a {actor.role.label} can only give or take roles below {actor.role.label}")
