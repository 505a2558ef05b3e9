"""Rules of blocking (issue 11): a user blocks another; no direct chats from them, and they are not told."""

from __future__ import annotations

from parley.core.errors import Conflict, Invalid

BLOCKS_MAX = 1000  # people one user may block: `GET /me` lists them all
NO_DIRECT = "you cannot start a direct chat with this person"
NO_DIRECT_SEND = "you cannot send messages to this direct chat"
NO_DIRECT_ACT = "you cannot do that in this direct chat"  # edits, reactions, pins, typing: as neutral


def require_blockable(user_id: int, target_id: int, count: int) -> None:
    if user_id == target_id:
        raise Invalid("you cannot block yourself")
    if count >= BLOCKS_MAX:
        raise Conflict(f"you can block at most {BLOCKS_MAX} people; unblock someone first")
