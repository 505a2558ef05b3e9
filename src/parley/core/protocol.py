"""The WebSocket wire protocol: parsing client frames and encoding server frames.

Parsing returns a typed frame or raises ProtocolError with the code and the `ref` to echo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from parley.core import validation
from parley.core.errors import Invalid, ParleyError


class ProtocolError(ParleyError):
    def __init__(self, code: str, message: str, ref: Any = None) -> None:
        super().__init__(message, code=code)
        self.ref = ref


@dataclass(slots=True)
class Auth:
    token: str
    ref: Any


@dataclass(slots=True)
class Send:
    room: int
    text: str
    client_msg_id: str | None
    ref: Any


@dataclass(slots=True)
class Resume:
    cursors: dict[int, int]
    ref: Any


@dataclass(slots=True)
class Typing:
    room: int
    ref: Any


@dataclass(slots=True)
class Read:
    room: int
    seq: int
    ref: Any


@dataclass(slots=True)
class Ping:
    ref: Any


ClientFrame = Auth | Send | Resume | Typing | Read | Ping
MAX_CURSORS = 10_000


def _ref(obj: dict[str, Any]) -> Any:
    ref = obj.get("ref")
    if ref is None or isinstance(ref, int | float) and not isinstance(ref, bool):
        return ref
    if isinstance(ref, str) and len(ref) <= 64:
        return ref
    return None


def parse(raw: str | bytes, max_text: int) -> ClientFrame:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"frame is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_json", "frame must be a JSON object")
    ref = _ref(obj)
    kind = obj.get("type")
    builder = _BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise ProtocolError("unknown_type", f"unknown frame type {kind!r}", ref)
    try:
        return builder(obj, ref, max_text)
    except Invalid as exc:
        raise ProtocolError("invalid", exc.message, ref) from None


def _auth(obj: dict[str, Any], ref: Any, _: int) -> Auth:
    token = obj.get("token")
    if not isinstance(token, str) or not token:
        raise Invalid("token must be a non-empty string")
    return Auth(token, ref)


def _send(obj: dict[str, Any], ref: Any, max_text: int) -> Send:
    if "room" not in obj:
        raise Invalid("room is required")
    if "text" not in obj:
        raise Invalid("text is required")
    return Send(
        room=validation.room_id(obj["room"]),
        text=validation.message_text(obj["text"], max_text),
        client_msg_id=validation.client_msg_id(obj.get("client_msg_id")),
        ref=ref,
    )


def _resume(obj: dict[str, Any], ref: Any, _: int) -> Resume:
    cursors = obj.get("cursors", {})
    if not isinstance(cursors, dict):
        raise Invalid("cursors must be an object of room id to seq")
    if len(cursors) > MAX_CURSORS:
        raise Invalid(f"cursors may hold at most {MAX_CURSORS} rooms")
    parsed = {validation.room_id(k, "cursors key"): validation.positive_int(v, "cursors value")
              for k, v in cursors.items()}
    return Resume(parsed, ref)


def _typing(obj: dict[str, Any], ref: Any, _: int) -> Typing:
    return Typing(validation.room_id(obj.get("room")), ref)


def _read(obj: dict[str, Any], ref: Any, _: int) -> Read:
    return Read(validation.room_id(obj.get("room")), validation.positive_int(obj.get("seq"), "seq"), ref)


def _ping(obj: dict[str, Any], ref: Any, _: int) -> Ping:
    return Ping(ref)


_BUILDERS = {"auth": _auth, "send": _send, "resume": _resume, "typing": _typing, "read": _read, "ping": _ping}


def encode(frame: dict[str, Any]) -> bytes:
    """JSON bytes of a frame; integer keys (room ids in cursor maps) become strings."""
    return orjson.dumps(frame, option=orjson.OPT_NON_STR_KEYS)


def error_frame(code: str, message: str, ref: Any = None) -> bytes:
    return encode({"type": "error", "code": code, "message": message, "ref": ref})
