"""The wire registry (core/wire.py) against everything that must know each type.

A room event type is complete when it has all of:

1. a struct in `wire.EVENTS` (a `RoomEvent` subclass tagged with the type) and a value in
   `models.EventType`;
2. its schema in /api/openapi.json (generated from the struct: `Event` maps the type to it);
3. a client reducer: a key of the one object literal `export const REDUCERS = { <type>: ..., }`
   declared in a module under src/parley/static/ (exactly one module declares it);
4. a timeline rendering: a key of `const SYSTEM_LINES = { <type>: ..., }` in
   static/views/timeline.js (`message` alone is drawn as a message row instead);
5. strings: a key `'event.<type>'`, or keys `'event.<type>.<detail>'`, in static/locales/en.js and
   static/locales/zh-CN.js.

Every other server frame in `wire.FRAMES` needs a key in `const HANDLERS = { <type>: ..., }` in
static/sync.js, unless `CLIENT_IGNORES` below says why the client has nothing to do with it.

The client is read as text: keys are the top-level property names of those object literals
(identifiers or quoted strings; nested objects, strings and comments are skipped).
docs/client.md states the same convention.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import orjson
import pytest

import parley
from parley.core import wire
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
from parley.core.views import room_view
from parley.web import openapi

SRC = Path(parley.__file__).parent
STATIC = SRC / "static"
LOCALES = ("en", "zh-CN")
DRAWN_AS_MESSAGES = {"message"}
CLIENT_IGNORES = {
    "pong": "the client sends no ping; the server's WebSocket pings keep the socket alive",
    "resumed": "the events before it already moved the client's cursors, one by one",
    # Issue 11: the held-for-review queue's client is branch i11-modui's; it removes these two.
    "held_added": "the held queue UI (branch i11-modui) handles it",
    "held_resolved": "the held queue UI (branch i11-modui) handles it",
    # Issue 12: the support desk is a page of its own (/support/desk/ID) with its own socket; the app
    # (whose first screen is at its budget) has nothing to do with the frame.
    "support_updated": "the support desk page (static/support/desk.js) handles it",
}


# -- reading the client ------------------------------------------------------------------------------


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    return i + 1


def object_keys(source: str, declaration: str) -> set[str]:
    """Top-level keys of the object literal that follows `declaration` (e.g. `const X =`)."""
    start = source.find(declaration)
    assert start >= 0, f"`{declaration}` not found"
    i = source.index("{", start + len(declaration)) + 1
    depth, keys, expect_key = 0, set(), True
    key = re.compile(r"\s*(?:([A-Za-z_$][\w$]*)|'([^']*)'|\"([^\"]*)\")\s*:")
    while True:
        if depth == 0 and expect_key:
            found = key.match(source, i)
            if found:
                keys.add(next(g for g in found.groups() if g is not None))
                i, expect_key = found.end(), False
                continue
        c = source[i]
        if c in "'\"`":
            i = _skip_string(source, i)
            continue
        if source.startswith("//", i):
            i = source.index("\n", i)
            continue
        if source.startswith("/*", i):
            i = source.index("*/", i) + 2
            continue
        if c in "{[(":
            depth += 1
        elif c in "}])":
            if depth == 0:
                return keys
            depth -= 1
        elif c == "," and depth == 0:
            expect_key = True
        i += 1


def reducer_keys() -> set[str]:
    declaring = [p for p in STATIC.rglob("*.js") if "export const REDUCERS = {" in p.read_text(encoding="utf-8")]
    assert len(declaring) == 1, f"exactly one client module must declare `export const REDUCERS = {{`: {declaring}"
    return object_keys(declaring[0].read_text(encoding="utf-8"), "export const REDUCERS =")


def locale_keys(locale: str) -> set[str]:
    return object_keys((STATIC / "locales" / f"{locale}.js").read_text(encoding="utf-8"), "export default")


def _read(relative: str) -> str:
    return (STATIC / relative).read_text(encoding="utf-8")


# -- the reader itself ---------------------------------------------------------------------------------


def test_object_keys_reads_only_top_level_keys() -> None:
    source = """const X = {
      a: (e) => [['k', { inner: 1 }]],  // comment: with a colon
      'b-c': "x, y: z",
      /* d: no */ e: { f: 2 },
      g,
    };"""
    assert object_keys(source, "const X =") == {"a", "b-c", "e"}


# -- every room event type ---------------------------------------------------------------------------


EVENT_TYPES = sorted(set(wire.EVENTS) | {t.value for t in EventType})


@pytest.mark.parametrize("etype", EVENT_TYPES)
def test_event_type_has_a_struct(etype: str) -> None:
    assert etype in {t.value for t in EventType}, f"{etype}: add it to models.EventType"
    struct = wire.EVENTS.get(etype)
    assert struct is not None, f"{etype}: declare its struct in core/wire.py and list it in EVENTS"
    assert issubclass(struct, wire.RoomEvent) and struct.__struct_config__.tag == etype


@pytest.mark.parametrize("etype", EVENT_TYPES)
def test_event_type_has_an_openapi_schema(etype: str) -> None:
    schemas = orjson.loads(openapi.document(4000))["components"]["schemas"]
    mapping = schemas["Event"]["discriminator"]["mapping"]
    assert etype in mapping, f"{etype}: missing from the OpenAPI `Event` schema"
    schema = schemas[mapping[etype].rsplit("/", 1)[1]]
    assert schema["properties"]["type"] == {"enum": [etype]}
    assert {"room", "seq", "id", "ts", "sender"} <= set(schema["required"])
    assert etype in schemas["EventType"]["enum"]


@pytest.mark.parametrize("etype", EVENT_TYPES)
def test_event_type_has_a_client_reducer(etype: str) -> None:
    assert etype in reducer_keys(), f"{etype}: the client drops it; add a key to REDUCERS"


@pytest.mark.parametrize("etype", EVENT_TYPES)
def test_event_type_has_a_timeline_rendering(etype: str) -> None:
    timeline = _read("views/timeline.js")
    if etype in DRAWN_AS_MESSAGES:
        assert f"event.type === '{etype}'" in timeline
        return
    assert etype in object_keys(timeline, "const SYSTEM_LINES ="), \
        f"{etype}: the timeline shows an empty line for it; add a key to SYSTEM_LINES"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("etype", EVENT_TYPES)
def test_event_type_has_strings(etype: str, locale: str) -> None:
    keys = locale_keys(locale)
    assert any(k == f"event.{etype}" or k.startswith(f"event.{etype}.") for k in keys), \
        f"{etype}: no 'event.{etype}' string in locales/{locale}.js"


def test_the_checks_see_the_client() -> None:
    """The reader finds what the client declares today (so an empty read cannot pass the tests above)."""
    assert {"message", "member_joined"} <= reducer_keys()
    assert "member_joined" in object_keys(_read("views/timeline.js"), "const SYSTEM_LINES =")
    assert {"hello", "ack"} <= object_keys(_read("sync.js"), "const HANDLERS =")
    assert all(len(locale_keys(locale)) > 50 for locale in LOCALES)


# -- every other server frame --------------------------------------------------------------------------


@pytest.mark.parametrize("ftype", sorted(wire.FRAMES))
def test_server_frame_has_a_client_handler(ftype: str) -> None:
    if ftype in CLIENT_IGNORES:
        return
    assert ftype in object_keys(_read("sync.js"), "const HANDLERS ="), \
        f"{ftype}: the client drops this frame; add a key to HANDLERS in sync.js"


def test_frames_and_events_do_not_share_a_type() -> None:
    assert not set(wire.FRAMES) & set(wire.EVENTS)


def test_no_frame_is_built_as_a_dict_outside_the_registry() -> None:
    types = "|".join(map(re.escape, [*wire.FRAMES, *wire.EVENTS]))
    literal = re.compile(rf"""["']type["']\s*:\s*["']({types})["']""")
    found = [f"{path.relative_to(SRC)}: {m.group(0)}" for path in SRC.rglob("*.py") if path.name != "wire.py"
             for m in literal.finditer(path.read_text(encoding="utf-8"))]
    assert found == [], "build server frames with the structs of core/wire.py"


# -- encoding ------------------------------------------------------------------------------------------


SENDER = {"id": 1, "username": "ann", "display_name": "Ann", "avatar_url": None}


def test_a_message_encodes_as_before_plus_mentions() -> None:
    event = Event(981, 7, 43, EventType.MESSAGE, 1764222000123, SENDER, {"text": "hi @bob"}, "c-1")
    assert orjson.loads(wire.encode_event(event)) == {
        "type": "message", "room": 7, "seq": 43, "id": 981, "ts": 1764222000123, "sender": SENDER,
        "text": "hi @bob", "client_msg_id": "c-1", "mentions": []}
    event.data["mentions"] = [2]
    assert orjson.loads(wire.encode_event(event))["mentions"] == [2]
    assert orjson.loads(wire.encode_event(event)) == event.wire()


def test_a_message_carries_its_attachments_only_when_it_has_some() -> None:
    upload = {"id": 5, "name": "a.png", "size": 10, "content_type": "image/png", "url": "/media/5/a.png",
              "thumbnail_url": "/media/5/thumbnail", "width": 2, "height": 3, "duration_ms": None, "waveform": None}
    event = Event(981, 7, 43, EventType.MESSAGE, 1, SENDER, {"text": "", "attachments": [upload]}, None)
    assert orjson.loads(wire.encode_event(event))["attachments"] == [upload]
    assert "attachments" not in orjson.loads(wire.encode_event(
        Event(981, 7, 43, EventType.MESSAGE, 1, SENDER, {"text": "x"}, None)))


def test_an_event_field_without_a_struct_field_is_an_error_not_dropped() -> None:
    with pytest.raises(msgspec.ValidationError):
        wire.event_frame(Event(1, 7, 1, EventType.MEMBER_LEFT, 5, SENDER, {"user": SENDER, "reason": "x"}))
    with pytest.raises(msgspec.ValidationError):
        wire.event_frame(Event(1, 7, 1, EventType.MESSAGE, 5, SENDER, {"text": "x", "colour": "red"}))


def test_room_updated_sends_only_the_changed_fields() -> None:
    event = Event(3, 7, 3, EventType.ROOM_UPDATED, 7, SENDER, {"changes": {"topic": "t"}})
    assert orjson.loads(wire.encode_event(event))["changes"] == {"topic": "t"}


def test_user_updated_frame() -> None:
    frame = wire.UserUpdatedFrame(user=wire.UserPublic(2, "bob", "Bob"))
    assert orjson.loads(wire.encode(frame)) == {
        "type": "user_updated", "user": {"id": 2, "username": "bob", "display_name": "Bob", "avatar_url": None}}


def test_room_views_are_what_the_room_struct_declares() -> None:
    """core/views.py builds rooms as dicts for REST; the `Room` struct (and so the OpenAPI schema
    and the `invited` frame) must describe each of them exactly."""
    room = Room(7, RoomKind.ROOM, "general", "hi", Visibility.PUBLIC, False, 1, 42)
    direct = Room(8, RoomKind.DIRECT, "", "", Visibility.PRIVATE, False, 1, 3)
    mine = Membership(7, 1, Role.OWNER, MemberState.JOINED, 40, 1)
    ann = User(1, "ann", "Ann", False, False, 1)
    views = [room_view(room), room_view(room, member_count=3),
             room_view(room, mine, member_count=3, unread=(2, 1)), room_view(room, mine),
             room_view(direct, mine, member_count=1, unread=(0, 0), participants=[ann])]
    for view in views:
        assert msgspec.to_builtins(msgspec.convert(view, wire.Room)) == view
