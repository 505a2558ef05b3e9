"""The audit log of moderation and administration actions: the names of the actions, and who may
read which entries. Pure: the store writes and reads the rows (store/audit.py)."""

from __future__ import annotations

from parley.core.errors import Forbidden, NotFound
from parley.core.models import Membership, MemberState, Role, Room, RoomKind, User

# Every action the log records. A capability that records a new one adds its name here: the query's
# `action` filter and the OpenAPI document accept exactly these.
ACTIONS: tuple[str, ...] = (
    # room moderation (issue 11)
    "kick", "ban", "unban", "mute", "unmute", "delete_message", "purge_messages", "set_role", "room_settings",
    # reports
    "resolve_report",
    # spam filter
    "approve_message", "reject_message", "spam_settings",
    # server administration
    "disable_user", "enable_user", "grant_admin", "revoke_admin", "registration_mode", "create_invite",
    "revoke_invite",
    # privacy
    "delete_account", "retention",
)
PAGE_MAX = 100
NO_LOG = "you administer no room: the audit log is for room admins and server admins"


def check_action(action: str) -> str:
    """A name the log knows; a writer that records an unknown one is a bug, not user input."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to core.audit.ACTIONS")
    return action


def require_room_log_reader(user: User, room: Room | None, membership: Membership | None) -> Room:
    """A room's entries: for its joined admins and owner, and for server admins. A room the user
    may not see at all answers like one that does not exist; a member below admin is refused."""
    if room is not None and user.is_admin and room.kind is RoomKind.ROOM:
        return room
    if room is None or membership is None or membership.state is not MemberState.JOINED:
        raise NotFound("no such room, or you are not a member of it")
    if membership.role < Role.ADMIN:
        raise Forbidden("the room's audit log is for its admins and owner")
    return room


def require_log_reader(user: User, administered: list[int]) -> list[int] | None:
    """Without a room: a server admin reads everything (None: no room filter); a room admin the
    entries of the rooms they administer; anyone else is refused (403)."""
    if user.is_admin:
        return None
    if not administered:
        raise Forbidden(NO_LOG)
    return administered
