"""Server administration rules: who is a server admin, what an admin may change about a user, the
registration modes and invite codes. Pure: the store keeps the rows (store/admin.py)."""

from __future__ import annotations

import enum
import re
from typing import Any

from parley.core.errors import Conflict, Forbidden, Invalid
from parley.core.models import Room, User

NOT_ADMIN = "this needs a server admin"
PAGE_MAX = 100
INVITE_USES_MAX = 1000
INVITE_TTL_MIN_S, INVITE_TTL_MAX_S = 60, 365 * 86_400
INVITE_TTL_DEFAULT_S = 7 * 86_400
INVITE_CODE_MAX = 64  # longer codes are refused before any query (ours are 22 characters)
INVITES_OPEN_MAX = 1000  # unexpired codes with uses left, per server: creating more is refused


class Registration(enum.StrEnum):
    """Who may create an account: anyone, holders of an invite code, or nobody (the operator still
    can, with `parley user create`; and the first account of an empty server always can)."""

    OPEN = "open"
    INVITE = "invite"
    CLOSED = "closed"


class InviteRefused(Forbidden):
    """An invite code that does not admit: the code says why."""


def require_server_admin(user: User) -> None:
    """Every /api/v1/admin path. Refused with 403 `forbidden` (not 404): the administration API is
    documented and its existence is no secret; what it shows is."""
    if not user.is_admin or user.disabled:
        raise Forbidden(NOT_ADMIN)


def require_user_change(actor: User, target: User, *, disable: bool | None, admin: bool | None,
                        other_enabled_admins: int) -> None:
    """An admin disables, enables, grants and revokes admin, but never locks themself out, and the
    server never loses its last enabled admin (the count excludes the target, read under a lock)."""
    require_server_admin(actor)
    removes = disable is True or admin is False
    if removes and target.is_admin and not target.disabled and other_enabled_admins == 0:
        raise Conflict("this is the last enabled server admin: make another user admin first")
    if actor.id == target.id and removes:
        raise Forbidden("you cannot disable yourself or take your own admin role; ask another admin")


def admission(mode: Registration, *, first: bool, invite: str | None) -> bool:
    """Whether a registration may go ahead and whether it spends an invite (True: consume `invite`).
    The first account of an empty server always registers (it becomes the admin)."""
    if first or mode is Registration.OPEN:
        return False
    if mode is Registration.CLOSED:
        raise Forbidden("registration is closed on this server; ask its admin for an account",
                        code="registration_closed")
    if not invite:
        raise InviteRefused("this server registers with an invite code only", code="invite_required")
    return True


def invite_refusal(found: tuple[int, int, int] | None, now: int) -> InviteRefused:
    """Why a code did not admit, from its (uses, used, expires_at), or None for an unknown code."""
    if found is None:
        return InviteRefused("that invite code is unknown or was revoked", code="invite_invalid")
    uses, used, expires_at = found
    if expires_at <= now:
        return InviteRefused("that invite code has expired; ask for a new one", code="invite_expired")
    return InviteRefused(f"that invite code was used {used} of {uses} times already", code="invite_used")


_DURATION = re.compile(r"^(\d{1,9})([smhdw]?)$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_duration(text: str) -> int:
    """`90`, `30m`, `12h`, `7d`, `2w` as seconds (the CLI's --expires)."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise Invalid(f"{text!r} is not a duration: use seconds or a number with s, m, h, d or w (7d)")
    return int(match[1]) * _UNIT_S[match[2]]


def check_invite(uses: int, expires_in_s: int) -> None:
    if not 1 <= uses <= INVITE_USES_MAX:
        raise Invalid(f"uses must be 1 to {INVITE_USES_MAX}")
    if not INVITE_TTL_MIN_S <= expires_in_s <= INVITE_TTL_MAX_S:
        raise Invalid(f"expires_in_s must be {INVITE_TTL_MIN_S} to {INVITE_TTL_MAX_S} (a year)")


# -- what the admin API shows ------------------------------------------------------------------------


def user_view(user: User, rooms: int, last_login: int | None) -> dict[str, Any]:
    """A user as the admin's list shows them: `rooms` counts joined rooms (not direct chats);
    `last_login_at` is the newest session still valid (null: none)."""
    return {**user.private(), "disabled": user.disabled, "rooms": rooms, "last_login_at": last_login}


def room_view(room: Room, members: int, owners: list[User], last_activity: int | None) -> dict[str, Any]:
    return {"id": room.id, "name": room.name, "topic": room.topic, "visibility": room.visibility.value,
            "archived": room.archived, "created_at": room.created_at, "member_count": members,
            "owners": [o.public() for o in owners], "last_activity": last_activity}


def invite_view(code: str, uses: int, used: int, expires_at: int, created_at: int,
                created_by: dict[str, Any] | None) -> dict[str, Any]:
    return {"code": code, "uses": uses, "used": used, "expires_at": expires_at, "created_at": created_at,
            "created_by": created_by}
