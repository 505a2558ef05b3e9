"""Wire shapes: Event.wire, room_view, member_view, User.public/private."""

from __future__ import annotations

from parley.core.models import (
    Event,
    EventType,
    Membership,
    MemberState,
    Role,
    Room,
    RoomKind,
    User,
    Visibility,
)
from parley.core.views import member_view, room_view

ANN = User(id=1, username="ann", display_name="Ann", is_admin=True, disabled=False, created_at=1764222000000)
BOB = User(id=2, username="bob", display_name="鲍勃", is_admin=False, disabled=False, created_at=1764222000001)
SENDER = ANN.public()


def test_user_public_and_private() -> None:
    assert ANN.public() == {"id": 1, "username": "ann", "display_name": "Ann", "avatar_url": None}
    assert ANN.private() == {"id": 1, "username": "ann", "display_name": "Ann", "avatar_url": None, "status": "",
                             "is_admin": True,
                             "created_at": 1764222000000}
    assert ANN.profile() == {**ANN.public(), "status": ""}


def test_message_event_wire() -> None:
    event = Event(id=981, room_id=7, seq=43, type=EventType.MESSAGE, ts=1764222000123, sender=SENDER,
                  data={"text": "你好, world"}, client_msg_id="c-1")
    assert event.wire() == {"type": "message", "room": 7, "seq": 43, "id": 981, "ts": 1764222000123,
                            "sender": SENDER, "text": "你好, world", "client_msg_id": "c-1", "mentions": []}
    # Mentions are stored only when there are some; the wire always has the list.
    event.data["mentions"] = [2, 5]
    assert event.wire()["mentions"] == [2, 5]


def test_message_without_client_msg_id_carries_null() -> None:
    wire = Event(1, 7, 1, EventType.MESSAGE, 5, SENDER, {"text": "hi"}).wire()
    assert "client_msg_id" in wire
    assert wire["client_msg_id"] is None


def test_non_message_events_have_no_client_msg_id_and_their_own_fields() -> None:
    joined = Event(2, 7, 2, EventType.MEMBER_JOINED, 6, SENDER, {"user": SENDER, "role": "owner"})
    assert joined.wire() == {"type": "member_joined", "room": 7, "seq": 2, "id": 2, "ts": 6, "sender": SENDER,
                             "user": SENDER, "role": "owner"}
    updated = Event(3, 7, 3, EventType.ROOM_UPDATED, 7, SENDER, {"changes": {"topic": "t"}})
    assert updated.wire()["changes"] == {"topic": "t"}
    assert "client_msg_id" not in updated.wire()


def test_event_without_a_sender() -> None:
    wire = Event(4, 7, 4, EventType.ROOM_CREATED, 8, None,
                 {"name": "general", "kind": "room", "visibility": "public"}).wire()
    assert wire["sender"] is None
    assert wire["type"] == "room_created"
    assert (wire["name"], wire["kind"], wire["visibility"]) == ("general", "room", "public")


def test_wire_is_a_fresh_dict() -> None:
    event = Event(1, 7, 1, EventType.MESSAGE, 5, SENDER, {"text": "hi"})
    event.wire()["text"] = "changed"
    assert event.data == {"text": "hi"}
    assert event.wire()["text"] == "hi"


ROOM = Room(id=7, kind=RoomKind.ROOM, name="general", topic="Say hi", visibility=Visibility.PUBLIC,
            archived=False, created_at=1764222000000, last_seq=42)
DIRECT = Room(id=8, kind=RoomKind.DIRECT, name="", topic="", visibility=Visibility.PRIVATE,
              archived=False, created_at=1764222000000, last_seq=3)


def test_room_view_for_a_member_matches_the_protocol_example() -> None:
    m = Membership(room_id=7, user_id=1, role=Role.OWNER, state=MemberState.JOINED, read_seq=40, joined_seq=1)
    assert room_view(ROOM, m, member_count=3, unread=(2, 1)) == {
        "id": 7, "kind": "room", "name": "general", "topic": "Say hi", "visibility": "public",
        "archived": False, "created_at": 1764222000000, "last_seq": 42, "retention_days": None, "member_count": 3,
        "my_role": "owner", "my_state": "joined", "read_seq": 40, "unread": 2, "mentions": 1, "members": None}


def test_room_view_without_membership_has_no_my_fields() -> None:
    view = room_view(ROOM, member_count=5)
    assert view["member_count"] == 5
    assert not {"my_role", "my_state", "read_seq", "unread", "mentions"} & view.keys()
    assert view["members"] is None


def test_room_view_invited() -> None:
    m = Membership(7, 2, Role.MEMBER, MemberState.INVITED, 0, 0)
    view = room_view(ROOM, m)
    assert (view["my_role"], view["my_state"], view["read_seq"]) == ("member", "invited", 0)


def test_direct_room_lists_participants() -> None:
    view = room_view(DIRECT, participants=[ANN, BOB])
    assert view["kind"] == "direct"
    assert view["name"] == ""
    assert view["members"] == [ANN.public(), BOB.public()]


def test_regular_room_never_lists_participants() -> None:
    assert room_view(ROOM, participants=[ANN, BOB])["members"] is None


def test_member_view() -> None:
    m = Membership(7, 2, Role.MODERATOR, MemberState.JOINED, 0, 1)
    assert member_view(BOB, m, online=True) == {"user": BOB.profile(), "role": "moderator", "state": "joined",
                                                "online": True}
