"""Field rules for everything a user controls. Each check raises Invalid naming the field."""

from __future__ import annotations

import gzip
import re
import unicodedata
from functools import cache
from importlib import resources
from typing import Any

from parley.core import glyphs
from parley.core.errors import Invalid

# Written so that JSON Schema (ECMA-262) reads it as Python does: the OpenAPI document uses it.
USERNAME_CHARS = "[A-Za-z0-9_.-]{3,32}"
USERNAME_RE = re.compile(USERNAME_CHARS)
# C0 and C1 control characters except tab and newline (Unicode category Cc).
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional overrides and isolates: in a name they make one user look like another.
BIDI_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")
PASSWORD_MIN, PASSWORD_MAX = 8, 256
DISPLAY_NAME_MAX = 64
ROOM_NAME_MAX = 80
TOPIC_MAX = 500
STATUS_MAX = 80
REASON_MAX = 500  # a moderator's reason (kick, ban, mute), as the audit log keeps it
CLIENT_MSG_ID_MAX = 64
DIRECT_MAX_OTHERS = 9
INVITE_MAX = 50
INT_MAX = 2**62
RETENTION_DAYS_MAX = 36500  # a century: "keep" in all but name; 0 keeps forever


def username(value: Any) -> str:
    if not isinstance(value, str) or not USERNAME_RE.fullmatch(value):
        raise Invalid("username must be 3 to 32 letters, digits, '_', '-' or '.'")
    return value


def password(value: Any, *, field: str = "password", username: str | None = None) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string")
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise Invalid(f"{field} must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long")
    lowered = value.lower()
    if lowered in common_passwords() or (username and lowered == username.lower()):
        raise Invalid(f"{field} is too common; choose a longer, less guessable one")
    return value


@cache
def common_passwords() -> frozenset[str]:
    """The 20,000 most common passwords (Django's list, BSD licence), loaded once."""
    raw = resources.files("parley.core").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(raw).decode().split())


def _clean_text(value: Any, field: str, max_len: int, *, allow_empty: bool, multiline: bool) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string")
    value = unicodedata.normalize("NFC", value)
    value = value.replace("\r\n", "\n").replace("\r", "\n") if multiline else " ".join(value.split())
    if not allow_empty and not value.strip():
        raise Invalid(f"{field} must not be empty")
    if len(value) > max_len:
        raise Invalid(f"{field} must be at most {max_len} characters")
    if CONTROL_RE.search(value) or (not multiline and BIDI_RE.search(value)):
        raise Invalid(f"{field} must not contain control characters")
    return value


def display_name(value: Any) -> str:
    text = _clean_text(value, "display_name", DISPLAY_NAME_MAX, allow_empty=False, multiline=False)
    return _shown_as_is(text, "display_name", need_glyph=True)


def room_name(value: Any) -> str:
    text = _clean_text(value, "name", ROOM_NAME_MAX, allow_empty=False, multiline=False)
    return _shown_as_is(text, "name", need_glyph=True)


def topic(value: Any) -> str:
    text = _clean_text(value, "topic", TOPIC_MAX, allow_empty=True, multiline=False)
    return _shown_as_is(text, "topic", need_glyph=bool(text))


def reason(value: Any) -> str:
    """A moderator's reason (kick, ban, mute...): optional, one line, shown as is."""
    text = _clean_text("" if value is None else value, "reason", REASON_MAX, allow_empty=True, multiline=False)
    return _shown_as_is(text, "reason", need_glyph=bool(text))


def status(value: Any) -> str:
    """A user's status line: may be empty (cleared); otherwise shown as is, like a topic."""
    text = _clean_text(value, "status", STATUS_MAX, allow_empty=True, multiline=False)
    return _shown_as_is(text, "status", need_glyph=bool(text))


def _shown_as_is(text: str, field: str, *, need_glyph: bool) -> str:
    """Names are how people and rooms are recognised: nothing hidden in them, something drawn."""
    reason = glyphs.invalid_char(text)
    if reason:
        raise Invalid(f"{field} {reason}")
    if need_glyph and not glyphs.has_visible_glyph(text):
        raise Invalid(f"{field} must contain a visible character")
    return text


def note(value: Any, max_len: int, field: str = "note") -> str:
    """A free-text note to moderators (a report's, a resolution's): may be empty, several lines."""
    return _clean_text(value if value is not None else "", field, max_len, allow_empty=True, multiline=True)


def message_text(value: Any, max_len: int) -> str:
    text = _clean_text(value, "text", max_len, allow_empty=False, multiline=True)
    return text


def client_msg_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= CLIENT_MSG_ID_MAX:
        raise Invalid(f"client_msg_id must be a string of 1 to {CLIENT_MSG_ID_MAX} characters")
    return value


def retention_days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= RETENTION_DAYS_MAX:
        raise Invalid(f"retention_days must be 0 (keep forever) to {RETENTION_DAYS_MAX} days")
    return value


def positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > INT_MAX:
        raise Invalid(f"{field} must be a non-negative integer")
    return value


def room_id(value: Any, field: str = "room") -> int:
    """Room ids arrive as JSON numbers, or as strings where they are object keys."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        value = int(value)
    return positive_int(value, field)


def usernames(value: Any, *, max_count: int) -> list[str]:
    if not isinstance(value, list) or not value:
        raise Invalid("usernames must be a non-empty list")
    if len(value) > max_count:
        raise Invalid(f"usernames may name at most {max_count} users")
    return [username(v) for v in value]
