"""Privacy rules (issue 11): what an export holds, what a deleted account leaves behind, and when
retention erases a message. Pure: the services decide with these, the store keeps the result."""

from __future__ import annotations

import enum
import re
import secrets
from typing import Any

from parley.core.actions import tombstone

DAY_MS = 86_400_000
DELETED_DISPLAY_NAME = "Deleted user"
# The placeholder's username matches the username pattern (clients and the OpenAPI document expect
# it to) but is random, so nobody registered it before and nobody guesses it; login needs a password
# and the row has none.
DELETED_PREFIX = "deleted-"

README = """Your data from Parley
=====================

profile.json    your account as it was when you exported it
rooms.json      every room you are or were in: its name, your role and state
                (joined, invited or left)
messages.json   every message you sent: room, seq (its place in the room's log), ts
                (milliseconds since 1970), text, earlier texts of edited messages ("edits"),
                the message it replies to ("reply_to") and its thread ("thread_root"), and
                the files it carried; deleted messages appear as tombstones
reactions.json  your reactions: room, seq of the message, emoji, when
uploads/        the files you uploaded, named <upload id>-<file name>; the "file" of an
                attachment in messages.json names one of them
avatar          your profile picture, if you set one

Times are milliseconds since 1970-01-01 UTC. Messages by other people are not included.
"""


class DeletedMessages(enum.StrEnum):
    """What becomes of a deleted account's messages (PARLEY_DELETED_ACCOUNT_MESSAGES)."""

    KEEP = "keep"  # they stay, under the "deleted user" placeholder
    ERASE = "erase"  # they become tombstones, as if their author had deleted each


def placeholder_username() -> str:
    return DELETED_PREFIX + secrets.token_hex(8)


def upload_file_name(upload_id: int, name: str) -> str:
    """Where an upload goes in the zip: unique by id, never a path outside `uploads/`."""
    safe = re.sub(r"[/\\\x00-\x1f]", "_", name).strip(". ") or "file"
    return f"uploads/{upload_id}-{safe}"


def exported_message(message: dict[str, Any], edits: list[dict[str, Any]], files: dict[int, str]) -> dict[str, Any]:
    """One entry of messages.json from a message's wire form (`Event.wire()`)."""
    out: dict[str, Any] = {"room": message["room"], "seq": message["seq"], "ts": message["ts"],
                           "text": message.get("text", "")}
    for key in ("client_msg_id", "reply_to", "thread_root", "edited_at", "deleted"):
        if message.get(key) not in (None, False):
            out[key] = message[key]
    if edits:
        out["edits"] = edits
    attachments = message.get("attachments") or []
    if attachments:
        out["attachments"] = [{"id": a["id"], "name": a.get("name"), "size": a.get("size"),
                               "content_type": a.get("content_type"), "file": files.get(a["id"])}
                              for a in attachments]
    return out


def without_files(data: dict[str, Any]) -> dict[str, Any]:
    """A kept message whose files were erased with its author's account: the text stays; with no
    text left, it is a tombstone."""
    rest = {k: v for k, v in data.items() if k != "attachments"}
    return rest if rest.get("text") else tombstone(data)


def retention_cutoff(now_ms: int, days: int) -> int:
    """Messages written before this instant are past a retention of `days` days."""
    return now_ms - days * DAY_MS
