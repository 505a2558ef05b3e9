"""Rules of the message actions (issue 10): reactions, edits, deletes, replies, threads, pins.

Pure: the services decide with these, the store keeps what they decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import emoji as emoji_data

from parley.core.errors import Invalid

REACTIONS_MAX = 20  # distinct emoji on one message: a wall of reactions costs a bounded row
EMOJI_MAX = 32  # code points: the longest ZWJ family or tag flag is well under this
SNIPPET_MAX = 120  # characters of a reply's quote
# What a tombstone keeps of a deleted message: its place in replies and threads, nothing it said.
TOMBSTONE_KEEPS = ("reply_to", "thread_root")


def reaction_emoji(value: Any) -> str:
    """Exactly one Unicode emoji: a single code point, a sequence with skin tones, a ZWJ sequence,
    a flag or a keycap (the `emoji` package's data, Unicode's emoji-test.txt). Anything else,
    shortcodes and text included, is refused."""
    if not isinstance(value, str) or not 0 < len(value) <= EMOJI_MAX or not emoji_data.is_emoji(value):
        raise Invalid("emoji must be exactly one Unicode emoji")
    return value


def snippet(text: str, limit: int = SNIPPET_MAX) -> str:
    """The start of a text for a quote, on one line."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def tombstone(data: dict[str, Any]) -> dict[str, Any]:
    """A deleted message's data: erased text, no mentions, no attachments; marked deleted."""
    return {"text": "", **{k: data[k] for k in TOMBSTONE_KEEPS if k in data}, "deleted": True}


def edited(data: dict[str, Any], text: str, mentions: list[int], mentions_room: bool, now: int) -> dict[str, Any]:
    """A message's data after an edit: the new text and mentions, the rest (reply, thread,
    attachments) kept."""
    out = {k: v for k, v in data.items() if k not in ("text", "mentions", "mentions_room")}
    out["text"] = text
    if mentions:
        out["mentions"] = mentions
    if mentions_room:
        out["mentions_room"] = True
    out["edited_at"] = now
    return out


@dataclass(frozen=True, slots=True)
class Target:
    """What a reply or a thread reply needs to know of the message it names."""

    type: str
    sender_id: int | None
    thread_root: int | None
    deleted: bool


def reference_error(reply_to: int | None, thread_root: int | None, targets: Mapping[int, Target]) -> str | None:
    """Why a message's `reply_to` / `thread_root` cannot stand (None: they can). `targets` holds the
    room's events of those seqs. A reply answers a message (not a tombstone) of the same room; a
    thread reply hangs off a top-level message; both at once: the reply stays in that thread."""
    if reply_to is not None:
        found = targets.get(reply_to)
        if found is None or found.type != "message":
            return "reply_to must be the seq of a message in this room"
        if found.deleted:
            return "reply_to names a deleted message"
        if thread_root is not None and reply_to != thread_root and found.thread_root != thread_root:
            return "reply_to must be in the thread the message is sent to"
    if thread_root is not None:
        root = targets.get(thread_root)
        if root is None or root.type != "message":
            return "thread_root must be the seq of a message in this room"
        if root.thread_root is not None:
            return "thread_root must be a top-level message, not a reply in a thread"
        if root.deleted:
            return "thread_root names a deleted message"
    return None
