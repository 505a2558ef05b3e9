"""parley.core.protocol.parse: every client frame, and every way a frame can be wrong."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import pytest

from parley.core import protocol, wire
from parley.core.protocol import Auth, Ping, ProtocolError, Read, Resume, Send, Typing


def parse(frame: Any) -> protocol.ClientFrame:
    raw = frame if isinstance(frame, str | bytes) else json.dumps(frame, ensure_ascii=False)  # stdlib: any int
    return protocol.parse(raw)


def refused(frame: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(frame)
    return info.value


def check(frame: protocol.ClientFrame, cls: type, **expected: Any) -> None:
    """The frame is a `cls` whose fields have the expected values (and exact types)."""
    assert type(frame) is cls, frame
    for name, value in expected.items():
        got = getattr(frame, name)
        assert got == value and type(got) is type(value), f"{name}: {got!r} != {value!r}"


# --- valid frames ---------------------------------------------------------------------------


def test_auth() -> None:
    check(parse({"type": "auth", "token": "t0k", "ref": "a"}), Auth, token="t0k", ref="a")


def test_send_full_and_minimal() -> None:
    check(parse({"type": "send", "room": 7, "text": "你好, world", "client_msg_id": "c-1", "ref": 1}),
          Send, room=7, text="你好, world", client_msg_id="c-1", ref=1)
    check(parse({"type": "send", "room": 7, "text": "hi"}), Send, room=7, text="hi", client_msg_id=None, ref=None)


def test_send_text_is_left_to_the_service() -> None:
    """The text rules (length, NFC, controls) run once, in Messages.submit, for every transport."""
    check(parse({"type": "send", "room": 1, "text": "a\r\nb" + "x" * 10_000}), Send, text="a\r\nb" + "x" * 10_000)


def test_resume_keys_are_strings_and_become_ints() -> None:
    frame = parse({"type": "resume", "cursors": {"7": 40, "12": 0}, "ref": "r"})
    check(frame, Resume, cursors={7: 40, 12: 0}, ref="r")
    assert all(type(k) is int for k in frame.cursors)


def test_resume_without_cursors_is_empty() -> None:
    check(parse({"type": "resume"}), Resume, cursors={}, ref=None)


def test_typing_read_ping() -> None:
    check(parse({"type": "typing", "room": 3}), Typing, room=3, ref=None)
    check(parse({"type": "read", "room": 3, "seq": 41, "ref": 9}), Read, room=3, seq=41, ref=9)
    check(parse({"type": "ping", "ref": "p1"}), Ping, ref="p1")
    check(parse(b'{"type":"ping"}'), Ping, ref=None)


def test_unknown_extra_fields_are_ignored() -> None:
    check(parse({"type": "ping", "ref": 1, "extra": [1, 2]}), Ping, ref=1)


def test_bytes_and_str_input_parse_the_same() -> None:
    raw = '{"type":"send","room":2,"text":"é"}'
    assert protocol.parse(raw) == protocol.parse(raw.encode())


# --- ref ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", [0, 17, -3, "", "abc", "r" * 64, 2**53])
def test_ref_string_or_integer_is_kept(ref: Any) -> None:
    check(parse({"type": "ping", "ref": ref}), Ping, ref=ref)


def test_float_ref_is_a_number_too() -> None:
    """protocol.md: `ref` is "a string or number"; 2.5 is a JSON number."""
    check(parse({"type": "ping", "ref": 2.5}), Ping, ref=2.5)


@pytest.mark.parametrize("ref", [True, False, "r" * 65, {"a": 1}, [1]],
                         ids=["true", "false", "string-65", "object", "array"])
def test_ref_of_another_kind_is_refused_and_not_echoed(ref: Any) -> None:
    err = refused({"type": "ping", "ref": ref})
    assert err.code == "invalid"
    assert "ref" in err.message
    assert err.ref is None, "a ref the server refuses must not be echoed back"


@pytest.mark.parametrize("ref", [2**64, -(2**63) - 1, 10**30])
def test_any_accepted_ref_can_be_echoed(ref: int) -> None:
    """What parse accepts as `ref` is echoed in pong/ack/error; encoding that frame must not fail
    (orjson cannot write integers beyond 64 bits)."""
    try:
        frame = parse({"type": "ping", "ref": ref})
    except ProtocolError as err:
        echoed = err.ref
    else:
        echoed = frame.ref
    wire.encode(wire.PongFrame(ref=echoed))


def test_ref_is_echoed_on_errors() -> None:
    assert refused({"type": "nope", "ref": "u1"}).ref == "u1"
    assert refused({"ref": 5, "type": "send", "room": 1}).ref == 5
    assert refused({"type": "send", "room": 1, "text": "hi", "client_msg_id": "", "ref": "t"}).ref == "t"


# --- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "{", "{'type': 'ping'}", '{"type": "ping",}', "nul", b"\xff\xfe",
                                 '{"type": "ping", "ref": NaN}'])
def test_malformed_json_is_bad_json(raw: Any) -> None:
    err = refused(raw)
    assert err.code == "bad_json"
    assert "JSON" in err.message
    assert err.ref is None


@pytest.mark.parametrize("raw", ["[]", '[{"type": "ping"}]', "42", '"ping"', "null", "true"])
def test_non_object_is_bad_json(raw: str) -> None:
    err = refused(raw)
    assert err.code == "bad_json"
    assert "object" in err.message


@pytest.mark.parametrize("frame", [{"type": "shout"}, {"type": "PING"}, {"type": 1}, {"type": None}, {},
                                   {"type": ["ping"]}, {"type": "hello"}, {"type": "ack"}])
def test_unknown_type(frame: dict[str, Any]) -> None:
    err = refused(frame)
    assert err.code == "unknown_type"
    assert "unknown frame type" in err.message


# --- missing or wrong-typed fields: `invalid`, and the message names the field ---------------

INVALID = [
    ({"type": "auth"}, "token"),
    ({"type": "auth", "token": ""}, "token"),
    ({"type": "auth", "token": 5}, "token"),
    ({"type": "send", "text": "hi"}, "room"),
    ({"type": "send", "room": 1}, "text"),
    ({"type": "send", "room": "general", "text": "hi"}, "room"),
    ({"type": "send", "room": -1, "text": "hi"}, "room"),
    ({"type": "send", "room": 1.5, "text": "hi"}, "room"),
    ({"type": "send", "room": True, "text": "hi"}, "room"),
    ({"type": "send", "room": None, "text": "hi"}, "room"),
    ({"type": "send", "room": 1, "text": 5}, "text"),
    ({"type": "send", "room": 1, "text": "hi", "client_msg_id": ""}, "client_msg_id"),
    ({"type": "send", "room": 1, "text": "hi", "client_msg_id": "c" * 65}, "client_msg_id"),
    ({"type": "send", "room": 1, "text": "hi", "client_msg_id": 12}, "client_msg_id"),
    ({"type": "resume", "cursors": [1, 2]}, "cursors"),
    ({"type": "resume", "cursors": None}, "cursors"),
    ({"type": "resume", "cursors": {"abc": 1}}, "cursors"),
    ({"type": "resume", "cursors": {"7": "40"}}, "cursors"),
    ({"type": "resume", "cursors": {"7": -1}}, "cursors"),
    ({"type": "resume", "cursors": {"7": True}}, "cursors"),
    ({"type": "typing"}, "room"),
    ({"type": "typing", "room": False}, "room"),
    ({"type": "read", "room": 1}, "seq"),
    ({"type": "read", "seq": 1}, "room"),
    ({"type": "read", "room": 1, "seq": True}, "seq"),
    ({"type": "read", "room": 1, "seq": 3.0}, "seq"),
    ({"type": "read", "room": 1, "seq": 2**62 + 1}, "seq"),
    ({"type": "send", "room": 10**30, "text": "hi"}, "room"),
]


@pytest.mark.parametrize(("frame", "field"), INVALID)
def test_bad_field_is_invalid_and_named(frame: dict[str, Any], field: str) -> None:
    err = refused({**frame, "ref": "x"})
    assert err.code == "invalid"
    assert re.search(rf"\b{field}\b", err.message), err.message
    assert err.ref == "x"


def test_bool_is_not_an_int_anywhere() -> None:
    for frame in ({"type": "read", "room": True, "seq": 1}, {"type": "read", "room": 1, "seq": False},
                  {"type": "send", "room": True, "text": "hi"}, {"type": "typing", "room": True}):
        assert refused(frame).code == "invalid"


def test_too_many_cursors() -> None:
    cursors = {str(i): 0 for i in range(protocol.MAX_CURSORS + 1)}
    err = refused({"type": "resume", "cursors": cursors})
    assert err.code == "invalid"
    assert "cursors" in err.message


@pytest.mark.parametrize("key", ["²", "①"])
def test_odd_unicode_digit_cursor_key_is_invalid_not_a_crash(key: str) -> None:
    """A hostile client must get an `invalid` error frame, never an unexpected exception
    (which would escape the socket's frame handler)."""
    err = refused({"type": "resume", "cursors": {key: 1}, "ref": 3})
    assert err.code == "invalid"
    assert err.ref == 3


# --- encoding server frames -----------------------------------------------------------------


def test_encode_turns_int_keys_into_strings() -> None:
    assert orjson.loads(wire.encode(wire.ResumedFrame(cursors={7: 43}))) == \
        {"type": "resumed", "cursors": {"7": 43}, "ref": None}


def test_error_frame() -> None:
    assert orjson.loads(wire.error_frame("invalid", "room must be ...", "r1")) == \
        {"type": "error", "code": "invalid", "message": "room must be ...", "ref": "r1"}


@pytest.mark.parametrize(("frame", "field", "ref"), [
    ({"type": "send", "room": 1, "text": "hi", "client_msg_id": "a\x00", "ref": 7}, "client_msg_id", 7),
    ({"type": "auth", "token": "t\x00k", "ref": "r"}, "token", "r"),
    ({"type": "ping", "ref": "r\x00"}, "ref", None),
])
def test_nul_in_any_string_is_invalid(frame: dict[str, Any], field: str, ref: Any) -> None:
    """PostgreSQL cannot store a NUL: it must never get past parsing (text has the control rule too)."""
    error = refused(frame)
    assert (error.code, error.ref) == ("invalid", ref)
    assert error.message == f"{field} must not contain NUL characters"
