"""The JSON shapes of domain objects on the wire (REST and WebSocket)."""

from __future__ import annotations

from typing import Any

from parley.core.models import Membership, Room, RoomKind, User


def room_view(room: Room, membership: Membership | None = None, *, member_count: int | None = None,
              unread: tuple[int, int] | None = None, participants: list[User] | None = None) -> dict[str, Any]:
    """`unread` is (unread messages, of which mention me), for rooms the user has joined."""
    out: dict[str, Any] = {
        "id": room.id,
        "kind": room.kind.value,
        "name": room.name,
        "topic": room.topic,
        "visibility": room.visibility.value,
        "archived": room.archived,
        "created_at": room.created_at,
        "last_seq": room.last_seq,
        "retention_days": room.retention_days,
        "member_count": member_count,
        "members": [u.public() for u in participants] if room.kind is RoomKind.DIRECT and participants else None,
    }
    if membership is not None:
        out.update(my_role=membership.role.label, my_state=membership.state.value,
                   read_seq=membership.read_seq, unread=None if unread is None else unread[0],
                   mentions=None if unread is None else unread[1])
    return out


def member_view(user: User, membership: Membership, online: bool) -> dict[str, Any]:
    return {"user": user.profile(), "role": membership.role.label, "state": membership.state.value,
            "online": online}
