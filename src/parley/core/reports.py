"""Rules of reports (issue 11): who may report what, who sees a report, what resolving one does.

Pure: the services decide with these, the store keeps what they decide.
"""

from __future__ import annotations

from typing import Literal

from parley.core.actions import snippet
from parley.core.errors import Conflict, Invalid
from parley.core.models import Event, Membership, MemberState, Role

Reason = Literal["spam", "abuse", "other"]
Action = Literal["dismiss", "delete", "mute", "kick", "ban"]
State = Literal["open", "resolved"]
REASONS: tuple[str, ...] = ("spam", "abuse", "other")
ACTIONS: tuple[str, ...] = ("dismiss", "delete", "mute", "kick", "ban")
# Actions on the sender of the message, carried out by the moderation service (branch i11-mod).
ON_SENDER: tuple[str, ...] = ("mute", "kick", "ban")
NOTE_MAX = 500
SNIPPET_MAX = 500  # what a report keeps of the text, for when the message is deleted
PAGE_MAX = 100
DURATION_MAX_S = 366 * 86_400  # a mute or a timed ban; longer: ban without a duration


def require_reportable(message: Event, reporter_id: int) -> str:
    """A live message of someone else; returns what the report keeps of its text."""
    if message.data.get("deleted"):
        raise Conflict("that message was deleted already")
    if message.sender is not None and message.sender["id"] == reporter_id:
        raise Invalid("you cannot report your own message")
    return snippet(message.data.get("text", ""), SNIPPET_MAX)


def is_staff(membership: Membership | None) -> bool:
    """A joined moderator or higher of the room."""
    return membership is not None and membership.state is MemberState.JOINED and membership.role >= Role.MODERATOR


def handled_by_staff(sender: Membership | None) -> bool:
    """A report goes to the room's moderators and up, unless the reported sender is one of them
    now: then to the server admins only, so that no moderator judges their own or a peer's
    message. Server admins see every report."""
    return not is_staff(sender)


def may_handle(is_admin: bool, actor: Membership | None, sender: Membership | None) -> bool:
    return is_admin or (is_staff(actor) and handled_by_staff(sender))


def upheld(action: str) -> bool:
    """Every action but `dismiss` agrees with the reporters."""
    return action != "dismiss"
