"""Domain types shared by every layer."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import msgspec

from parley.core import wire
from parley.core.uploads import avatar_url


class Role(enum.IntEnum):
    """Room roles; a higher value outranks a lower one."""

    MEMBER = 10
    MODERATOR = 20
    ADMIN = 30
    OWNER = 40

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, label: str) -> Role:
        return cls[label.upper()]


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class RoomKind(enum.StrEnum):
    ROOM = "room"
    DIRECT = "direct"


class MemberState(enum.StrEnum):
    JOINED = "joined"
    INVITED = "invited"
    LEFT = "left"


class EventType(enum.StrEnum):
    ROOM_CREATED = "room_created"
    MESSAGE = "message"
    MEMBER_JOINED = "member_joined"
    MEMBER_LEFT = "member_left"
    MEMBER_INVITED = "member_invited"
    ROOM_UPDATED = "room_updated"
    MEMBER_UPDATED = "member_updated"
    # message actions (issue 10): each names the message it acts on by `target` (its seq)
    MESSAGE_EDITED = "message_edited"
    MESSAGE_DELETED = "message_deleted"
    REACTION_ADDED = "reaction_added"
    REACTION_REMOVED = "reaction_removed"
    MESSAGE_PINNED = "message_pinned"
    MESSAGE_UNPINNED = "message_unpinned"
    # retention (issue 11): every message below `before_seq` is erased in place (tombstones)
    HISTORY_PURGED = "history_purged"
    # moderation (issue 11): `user` is the member acted on, `sender` the moderator
    MEMBER_KICKED = "member_kicked"
    MEMBER_BANNED = "member_banned"
    MEMBER_UNBANNED = "member_unbanned"
    MEMBER_MUTED = "member_muted"
    MEMBER_UNMUTED = "member_unmuted"
    # calls (issue 13): `call` is the call's id
    CALL_STARTED = "call_started"
    CALL_ENDED = "call_ended"


# The events that end their `user`'s membership: delivery of the room to that user stops with them.
ENDS_MEMBERSHIP = frozenset({EventType.MEMBER_LEFT, EventType.MEMBER_KICKED, EventType.MEMBER_BANNED})


class PostPolicy(enum.StrEnum):
    """Who may post in a room: everyone, or (announcement rooms) moderators and up."""

    EVERYONE = "everyone"
    MODERATORS = "moderators"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    is_admin: bool
    disabled: bool
    created_at: int
    avatar: str | None = None  # blob key of the avatar (uploads)
    status: str = ""  # a short line the user sets ("in a meeting"); not part of event snapshots
    bot: bool = False  # a bot account (issue 12): owned by `owner_id`, authenticates with its token
    owner_id: int | None = None

    @property
    def server_bot(self) -> bool:
        """A bot of the server's own (no owner; the support assistant): no API makes one."""
        return self.bot and self.owner_id is None

    def public(self) -> dict[str, Any]:
        """The snapshot stored in events (a member_joined's `user`): the name as it was then.
        A bot carries `bot: true` (absent for people, so existing snapshots read the same)."""
        out = {"id": self.id, "username": self.username, "display_name": self.display_name,
               "avatar_url": avatar_url(self.id, self.avatar)}
        if self.bot:
            out["bot"] = True
        return out

    def profile(self) -> dict[str, Any]:
        """The user as lists, searches and `user_updated` show them now: with the status."""
        return {**self.public(), "status": self.status}

    def private(self) -> dict[str, Any]:
        return {**self.profile(), "is_admin": self.is_admin, "created_at": self.created_at}


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    user_id: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class Room:
    id: int
    kind: RoomKind
    name: str
    topic: str
    visibility: Visibility
    archived: bool
    created_at: int
    last_seq: int
    slow_mode_s: int = 0  # moderation (issue 11): a member posts at most once per this many seconds
    post_policy: PostPolicy = PostPolicy.EVERYONE
    retention_days: int | None = None  # None: the server's PARLEY_RETENTION_DAYS; 0: forever


@dataclass(frozen=True, slots=True)
class Membership:
    room_id: int
    user_id: int
    role: Role
    state: MemberState
    read_seq: int
    joined_seq: int
    muted_until: int | None = None  # ms; the member reads but neither posts nor types until then

    def muted(self, now: int) -> bool:
        return self.muted_until is not None and self.muted_until > now


@dataclass(slots=True)
class Event:
    """One entry of a room's log. `data` holds the type-specific fields of the wire form."""

    id: int
    room_id: int
    seq: int
    type: EventType
    ts: int
    sender: dict[str, Any] | None
    data: dict[str, Any] = field(default_factory=dict)
    client_msg_id: str | None = None

    def wire(self) -> dict[str, Any]:
        """The JSON-ready form (REST); the socket sends `wire.encode_event(event)`, the same fields."""
        return msgspec.to_builtins(wire.event_frame(self))
