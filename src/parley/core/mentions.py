"""`@username` mentions, resolved by the server to user ids when a message is stored.

A token starts at an `@` that follows the start of the text or a character that cannot be in a
username (so `ann@example.com` is no mention), and ends at the first character that cannot be in a
username; it names a user when it equals their username, ignoring case. `@bob` is not `@bobby`.
Usernames may end in `.`, so when no one is called `bob.`, "thanks @bob." falls back to `bob`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from parley.core.validation import USERNAME_CHARS

_CHAR = USERNAME_CHARS.split("{")[0]  # the character class, e.g. [A-Za-z0-9_.-]
_TOKEN = re.compile(f"(?<!{_CHAR})@({_CHAR}+)")
_LENGTH = re.compile(USERNAME_CHARS)
TOKEN = _TOKEN  # an @name (the assistant strips them from a question)
ROOM_TOKENS = frozenset({"room", "here"})  # `@room`, `@here`: everyone (moderators and up only)
NAMES_MAX = 20  # distinct names looked up per message: a wall of @tokens costs one bounded query


def _tokens(text: str) -> list[tuple[str, str]]:
    """(the token, the token less trailing dots), lower-cased, in order of appearance."""
    if "@" not in text:  # most messages: a substring test is ~50x cheaper than the regex scan
        return []
    out = []
    for match in _TOKEN.finditer(text):
        token = match.group(1).lower()
        out.append((token, token.rstrip(".")))
    return out


def candidates(text: str) -> list[str]:
    """The usernames (lower case) a text may mention, at most NAMES_MAX."""
    names: dict[str, None] = {}
    for pair in _tokens(text):
        for name in pair:
            if _LENGTH.fullmatch(name):
                names.setdefault(name)
    return list(names)[:NAMES_MAX]


def resolve(text: str, members: Mapping[str, int]) -> list[int]:
    """The ids of the users the text mentions, in order of first mention, given the room's members
    as {lower-case username: id} (only those among `candidates(text)` need be there)."""
    allowed = set(candidates(text))
    ids: dict[int, None] = {}
    for token, stripped in _tokens(text):
        for name in (token, stripped):
            if name in allowed and name in members:
                ids.setdefault(members[name])
                break
    return list(ids)


def names_room(text: str) -> bool:
    """Whether the text holds an `@room` or `@here` token (who may use one: permissions)."""
    return any(token in ROOM_TOKENS or stripped in ROOM_TOKENS for token, stripped in _tokens(text))
