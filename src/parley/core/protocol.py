"""The WebSocket wire protocol, client side: parsing client frames (server frames: `wire`).

Client frames are decoded by msgspec straight into typed structs (a tagged union on `type`). The
text rules of a message (`validation.message_text`) run once, in `Messages.submit`, as for REST.
Parsing raises ProtocolError with the code and the `ref` to echo.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import msgspec
import orjson

from parley.core import calls, validation
from parley.core.errors import ParleyError

MAX_CURSORS = 10_000
NonNegative = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
# A ref must survive the round trip: JSON-safe integers, finite floats, short strings.
RefInt = Annotated[int, msgspec.Meta(ge=-(2**53), le=2**53)]
RefStr = Annotated[str, msgspec.Meta(max_length=64)]
Ref = RefInt | float | RefStr | None


class ProtocolError(ParleyError):
    def __init__(self, code: str, message: str, ref: Any = None) -> None:
        super().__init__(message, code=code)
        self.ref = ref


class _Frame(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    ref: Ref = None


class Auth(_Frame, tag="auth"):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Send(_Frame, tag="send"):
    room: NonNegative
    text: str = ""  # may be left out when the message carries attachments
    attachments: Annotated[list[NonNegative], msgspec.Meta(max_length=10)] | None = None
    client_msg_id: Annotated[str, msgspec.Meta(min_length=1, max_length=validation.CLIENT_MSG_ID_MAX)] | None = None
    reply_to: NonNegative | None = None
    thread_root: NonNegative | None = None


class Edit(_Frame, tag="edit"):
    room: NonNegative
    seq: NonNegative
    text: str


class Delete(_Frame, tag="delete"):
    room: NonNegative
    seq: NonNegative
    spam: bool = False  # a moderator's "delete as spam": the spam filter learns the text


class React(_Frame, tag="react"):
    room: NonNegative
    seq: NonNegative
    emoji: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    on: bool = True


class Resume(_Frame, tag="resume"):
    cursors: Annotated[dict[NonNegative, NonNegative], msgspec.Meta(max_length=MAX_CURSORS)] = {}


class Typing(_Frame, tag="typing"):
    room: NonNegative


class Read(_Frame, tag="read"):
    room: NonNegative
    seq: NonNegative


class Ping(_Frame, tag="ping"):
    pass


# -- calls (issue 13): signalling over the socket; media flows between the browsers -------------------
PeerId = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern="^[A-Za-z0-9_-]+$")]


class CallStart(_Frame, tag="call_start"):
    """Start a call in a room (or join the one running there): answered `call_joined`."""

    room: NonNegative
    video: bool = True


class CallJoin(_Frame, tag="call_join"):
    """Join a running call; `peer` (my participant id in it) takes it over after a reconnect."""

    call: NonNegative
    peer: PeerId | None = None


class IceCandidate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    candidate: Annotated[str, msgspec.Meta(max_length=calls.CANDIDATE_MAX)]
    sdpMid: Annotated[str, msgspec.Meta(max_length=64)] | None = None  # noqa: N815 - the browser's names
    sdpMLineIndex: Annotated[int, msgspec.Meta(ge=0, le=1024)] | None = None  # noqa: N815
    usernameFragment: Annotated[str, msgspec.Meta(max_length=256)] | None = None  # noqa: N815


class CallSignal(_Frame, tag="call_signal"):
    """An SDP offer or answer, or an ICE candidate (null: end of candidates), to one participant."""

    call: NonNegative
    to: PeerId
    kind: Literal["offer", "answer", "ice"]
    sdp: Annotated[str, msgspec.Meta(max_length=calls.SDP_MAX)] | None = None
    candidate: IceCandidate | None = None
    restart: bool = False  # an offer with an ICE restart (after a network change)


class CallLeave(_Frame, tag="call_leave"):
    call: NonNegative


class CallEnd(_Frame, tag="call_end"):
    call: NonNegative


class CallDecline(_Frame, tag="call_decline"):
    call: NonNegative


CALL_FRAMES = (CallStart, CallJoin, CallSignal, CallLeave, CallEnd, CallDecline)
ClientFrame = (Auth | Send | Resume | Typing | Read | Ping | Edit | Delete | React | CallStart | CallJoin | CallSignal
               | CallLeave | CallEnd | CallDecline)
_decoder = msgspec.json.Decoder(ClientFrame)


def parse(raw: str | bytes) -> ClientFrame:
    try:
        frame = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise _explain(raw, str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError("bad_json", f"frame is not valid JSON: {exc}") from None
    for name in frame.__struct_fields__:  # a NUL cannot be stored in PostgreSQL: none passes
        value = getattr(frame, name)
        if isinstance(value, str) and "\x00" in value:
            raise ProtocolError("invalid", f"{name} must not contain NUL characters",
                                None if name == "ref" else frame.ref)
    if isinstance(frame, CallSignal) and (frame.kind == "ice") == (frame.sdp is not None):
        raise ProtocolError("invalid", "an offer or answer carries sdp; an ice signal carries candidate only",
                            frame.ref)
    if isinstance(frame, CallSignal) and frame.candidate is not None and "\x00" in frame.candidate.candidate:
        raise ProtocolError("invalid", "candidate must not contain NUL characters", frame.ref)
    if isinstance(frame, Send) and frame.attachments is None and not frame.text:
        raise ProtocolError("invalid", "text is required (or attachments)", frame.ref)
    return frame


def _explain(raw: str | bytes, detail: str) -> ProtocolError:
    """Turn msgspec's message into our codes; dig out `ref` so the client can match the error."""
    cleaned = detail.replace("`$.", "`").replace("$.", "")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:  # JSON msgspec reads but orjson refuses, such as 1e400
        return ProtocolError("invalid", cleaned)
    if not isinstance(obj, dict):
        return ProtocolError("bad_json", "frame must be a JSON object")
    ref = _echoable(obj.get("ref"))
    if "`$.type`" in detail or "field `type`" in detail:
        return ProtocolError("unknown_type", f"unknown frame type {obj.get('type')!r}", ref)
    missing = _MISSING.match(detail)
    if missing:
        return ProtocolError("invalid", f"{missing.group(1)} is required", ref)
    return ProtocolError("invalid", cleaned, ref)


def _echoable(ref: Any) -> Any:
    """The ref to put in an error frame: only one the frame was allowed to carry."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref if -(2**53) <= ref <= 2**53 else None
    if isinstance(ref, float):
        return ref if math.isfinite(ref) else None
    if isinstance(ref, str):
        return ref if len(ref) <= 64 else None
    return None


_MISSING = re.compile(r"Object missing required field `(\w+)`")
