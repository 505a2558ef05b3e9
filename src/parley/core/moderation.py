"""Room moderation (issue 11): who may kick, ban, mute and change the posting rules, and what a
muted member, a slow-mode room or an announcement room refuses. Pure functions, one per action.

| action | who |
|---|---|
| kick, ban, unban, mute, unmute | moderators and up, over members of a strictly lower role; server admins over anyone |
| slow mode, post policy | admins and up; server admins (`permissions.require_room_edit`) |

Never in a direct chat, never on oneself, never in an archived room."""

from __future__ import annotations

from parley.core.errors import Forbidden, Invalid, NotFound, RateLimited
from parley.core.models import Membership, MemberState, PostPolicy, Role, Room, RoomKind, User
from parley.core.permissions import NO_ROOM, administers

DURATION_MAX_S = 10 * 366 * 86_400  # ten years: a ban meant for good has no duration at all
SLOW_MODE_MAX_S = 6 * 3600
PURGE_MAX_S = 30 * 86_400  # how far back a purge of a user's messages reaches
NOT_A_MEMBER = "that user is not a member of this room"


def _require_moderator(user: User, room: Room | None, actor: Membership | None, action: str) -> Room:
    """The room, if `user` may moderate it at all: a joined moderator or up, or a server admin."""
    if room is None or not (administers(user, room) or (actor is not None and actor.state is MemberState.JOINED)):
        raise NotFound(NO_ROOM)  # a direct chat one is not in, too: it answers as no room at all
    if room.kind is RoomKind.DIRECT:
        raise Forbidden("direct chats have no moderation")
    if not administers(user, room) and actor is not None and actor.role < Role.MODERATOR:
        raise Forbidden(f"{action} needs the moderator role or higher")
    if room.archived:
        raise Forbidden("the room is archived and read-only")
    return room


def _require_over(user: User, actor: Membership | None, target_id: int, target: Membership | None,
                  action: str) -> None:
    """Moderators act on lower roles only (a role counts while joined or invited); server admins on anyone."""
    if target_id == user.id:
        raise Forbidden(f"you cannot {action} yourself")
    if user.is_admin:
        return
    assert actor is not None  # _require_moderator let a non-admin through only as a joined member
    held = target.role if target is not None and target.state is not MemberState.LEFT else Role.MEMBER
    if held >= actor.role:
        raise Forbidden(f"a {actor.role.label} can only {action} members of a lower role")


def _require_over_member(user: User, room: Room | None, actor: Membership | None, target_id: int,
                         target: Membership | None, action: str, verb: str) -> Room:
    room = _require_moderator(user, room, actor, action)
    if target is None or target.state is not MemberState.JOINED:
        raise NotFound(NOT_A_MEMBER)
    _require_over(user, actor, target_id, target, verb)
    return room


def require_kick(user: User, room: Room | None, actor: Membership | None, target_id: int,
                 target: Membership | None) -> Room:
    return _require_over_member(user, room, actor, target_id, target, "removing members", "remove")


def require_ban(user: User, room: Room | None, actor: Membership | None, target_id: int,
                target: Membership | None) -> Room:
    """Anyone may be banned, member or not (a ban ahead of a raid)."""
    room = _require_moderator(user, room, actor, "banning")
    _require_over(user, actor, target_id, target, "ban")
    return room


def require_unban(user: User, room: Room | None, actor: Membership | None, target_id: int) -> Room:
    """A banned user holds no role in the room any more: any moderator may lift the ban."""
    room = _require_moderator(user, room, actor, "lifting bans")
    _require_over(user, actor, target_id, None, "unban")
    return room


def require_ban_reader(user: User, room: Room | None, actor: Membership | None) -> Room:
    return _require_moderator(user, room, actor, "the ban list")


def require_mute(user: User, room: Room | None, actor: Membership | None, target_id: int,
                 target: Membership | None) -> Room:
    return _require_over_member(user, room, actor, target_id, target, "muting", "mute")


def require_unmute(user: User, room: Room | None, actor: Membership | None, target_id: int,
                   target: Membership | None) -> Room:
    room = _require_moderator(user, room, actor, "unmuting")
    if target is None or target.state is MemberState.LEFT:
        raise NotFound(NOT_A_MEMBER)
    _require_over(user, actor, target_id, target, "unmute")
    return room


def require_purger(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("purging a user's messages is for server admins")


# -- what a member may post ------------------------------------------------------------------------


def exempt(membership: Membership) -> bool:
    """Moderators and up are above slow mode and the post policy (never above a mute: they cannot be
    muted by anyone but a higher role or a server admin)."""
    return membership.role >= Role.MODERATOR


def require_unmuted(membership: Membership, now: int) -> None:
    """A muted member neither sends, types nor edits."""
    if membership.muted_until is not None and membership.muted_until > now:
        raise Forbidden(f"you are muted in this room for {_seconds(membership.muted_until - now)} more seconds",
                        code="muted")


def require_sender(room: Room, membership: Membership, now: int) -> None:
    """After `permissions.require_poster`: a mute, and an announcement room, refuse the member."""
    require_unmuted(membership, now)
    if room.post_policy is PostPolicy.MODERATORS and not exempt(membership):
        raise Forbidden("only moderators post in this room", code="forbidden")


def slowed(room: Room, membership: Membership) -> bool:
    """Whether a send waits for the room's slow-mode bucket (only then is the bucket asked)."""
    return room.slow_mode_s > 0 and not exempt(membership)


def slow_mode_refusal(wait: float, slow_mode_s: int) -> RateLimited:
    return RateLimited(f"slow mode: one message every {slow_mode_s} s; wait {_seconds(wait * 1000)} s", wait)


# -- the fields ------------------------------------------------------------------------------------


def until(now: int, duration_s: int | None, *, required: bool) -> int | None:
    """When a ban or mute of `duration_s` seconds from `now` ends (ms); None: no end."""
    if duration_s is None:
        if required:
            raise Invalid("duration_s is required")
        return None
    if isinstance(duration_s, bool) or not isinstance(duration_s, int) or not 1 <= duration_s <= DURATION_MAX_S:
        raise Invalid(f"duration_s must be a whole number of seconds from 1 to {DURATION_MAX_S}")
    return now + duration_s * 1000


def slow_mode(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SLOW_MODE_MAX_S:
        raise Invalid(f"slow_mode_s must be a whole number of seconds from 0 (off) to {SLOW_MODE_MAX_S}")
    return value


def post_policy(value: object) -> PostPolicy:
    if value not in ("everyone", "moderators"):
        raise Invalid("post_policy must be 'everyone' or 'moderators'")
    return PostPolicy(value)


def _seconds(ms: float) -> int:
    return max(1, int(ms / 1000 + 0.999))
