"""Who may do what in a room. Pure functions over roles and room state, one per action."""

from __future__ import annotations

from parley.core.errors import Conflict, Forbidden, NotFound
from parley.core.models import Membership, MemberState, Role, Room, RoomKind, User, Visibility

NO_ROOM = "no such room, or you are not a member of it"


def can_see(room: Room, membership: Membership | None) -> bool:
    """Whether a user may learn that the room exists (its name, topic, member count)."""
    if room.visibility is Visibility.PUBLIC and room.kind is RoomKind.ROOM:
        return True
    return membership is not None and membership.state in (MemberState.JOINED, MemberState.INVITED)


def administers(user: User, room: Room) -> bool:
    """A server admin manages every room (never a direct chat), member or not, so that no room is
    ever left without someone able to name its owner."""
    return user.is_admin and room.kind is RoomKind.ROOM


def require_settings_reader(user: User, room: Room | None, membership: Membership | None) -> Room:
    """The room's card and member list: its joined members, and the server admins."""
    if room is not None and administers(user, room):
        return room
    return require_reader(room, membership)


def require_reader(room: Room | None, membership: Membership | None) -> Room:
    """History, members and events are for joined members only; all else looks like no room."""
    if room is None or membership is None or membership.state is not MemberState.JOINED:
        raise NotFound(NO_ROOM)
    return room


def require_history(room: Room | None, membership: Membership | None, left_seq: int) -> tuple[Room, int | None]:
    """History is for joined members, and, read-only, for a member who left of their own accord:
    up to their leave (`left_seq`, the seq of their member_left). A kick or a ban takes that away
    (left_seq 0, as for search); invited and never-joined people see no room. Returns the room and
    the last seq the user may read (None: all of it)."""
    if room is not None and membership is not None and membership.state is MemberState.LEFT and left_seq > 0:
        return room, left_seq
    return require_reader(room, membership), None


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


def require_room_edit(user: User, room: Room | None, membership: Membership | None, fields: set[str]) -> Room:
    """Admins and up change name, topic, visibility, slow mode, the post policy and retention; the
    owner archives; a server admin does all of it.
    An archived room takes no new name or topic unless the same change un-archives it."""
    room = require_settings_reader(user, room, membership)
    if room.kind is RoomKind.DIRECT:
        raise Forbidden("direct chats have no name, topic or archive")
    if not administers(user, room):
        assert membership is not None  # require_settings_reader let a non-admin through only as a member
        if "archived" in fields:
            require_role(membership, Role.OWNER, "archiving a room")
        if fields & {"name", "topic"}:
            require_role(membership, Role.ADMIN, "changing the name or topic")
        if "visibility" in fields:
            require_role(membership, Role.ADMIN, "changing who may find the room")
        if fields & {"slow_mode_s", "post_policy"}:  # moderation (issue 11)
            require_role(membership, Role.ADMIN, "changing slow mode or the post policy")
        if "retention_days" in fields:  # privacy (issue 11)
            require_role(membership, Role.ADMIN, "changing the retention")
    return room


def require_leave(room: Room, membership: Membership, others_joined: int, other_owners: int) -> None:
    """Anyone leaves, except from a direct chat, and except the last owner of a room others are
    still in: they hand ownership over first, so the room keeps someone who manages it."""
    if room.kind is RoomKind.DIRECT:
        raise Forbidden("direct chats cannot be left")
    if (membership.state is MemberState.JOINED and membership.role is Role.OWNER
            and others_joined > 0 and other_owners == 0):
        raise Conflict("you are the room's last owner: make another member owner before leaving")


def require_role_change(actor: Membership, target: Membership, new_role: Role) -> None:
    """Admins and owners change the roles of members below them, to roles below their own."""
    if actor.user_id == target.user_id:
        raise Forbidden("you cannot change your own role")
    require_role(actor, Role.ADMIN, "changing roles")
    if target.role >= actor.role or new_role >= actor.role:
        raise Forbidden(f"a {actor.role.label} can only give or take roles below {actor.role.label}")


def require_ownership_transfer(user: User, room: Room, actor: Membership | None, target: Membership) -> None:
    """The owner hands ownership to another joined member (and becomes admin); a server admin names
    any joined member owner."""
    if administers(user, room):
        return
    if actor is None or actor.state is not MemberState.JOINED:
        raise NotFound(NO_ROOM)
    if actor.role is not Role.OWNER:
        raise Forbidden("only the owner can make someone owner")
    if actor.user_id == target.user_id:
        raise Forbidden("you are the owner already")


# -- message actions (issue 10) -------------------------------------------------------------------------


def require_author(membership: Membership, author_id: int | None, action: str) -> None:
    """Editing is for the message's author only."""
    if author_id is None or author_id != membership.user_id:
        raise Forbidden(f"you can only {action} your own messages")


def require_deleter(membership: Membership, author_id: int | None) -> None:
    """Authors delete their own messages; moderators and up delete anyone's."""
    if author_id is not None and author_id == membership.user_id:
        return
    require_role(membership, Role.MODERATOR, "deleting someone else's message")


def require_pinner(membership: Membership) -> None:
    require_role(membership, Role.MODERATOR, "pinning messages")


def may_mention_room(membership: Membership | None) -> bool:
    """`@room` and `@here` notify everyone: moderators and up only; from others they are plain text."""
    return membership is not None and membership.role >= Role.MODERATOR
