"""Bots and webhooks (issue 12): the pure rules. No I/O: the services resolve names and connect.

- Outgoing webhooks are signed `X-Parley-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`
  with the timestamp (Unix seconds) in `X-Parley-Timestamp`.
- A webhook URL may only reach a public address: private, loopback, link-local, unique-local,
  multicast, reserved and unspecified ones (IPv4 and IPv6, and IPv4 inside IPv6) are refused unless
  a network of PARLEY_WEBHOOK_ALLOW_PRIVATE holds them. The check runs on the address the name
  resolves to, and that address is the one connected to.
- Slash commands: `/name args`, name 1-32 of a-z 0-9 _ -.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from parley.core.errors import Invalid

WEBHOOK_EVENTS = ("message", "mention", "direct")
COMMAND_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
COMMAND_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"
# Built into the client or the server: no bot may register these names.
BUILTIN_COMMANDS = ("me", "topic", "invite", "help", "kick", "ban", "unban", "mute", "unmute")
URL_MAX = 2000
MAX_ATTEMPTS = 6  # 1 + 5 retries: after 1, 2, 4, 8, 16 times the base delay
RESPONSE_MAX = 64 * 1024  # bytes of a webhook's answer read, at most
ERROR_MAX = 300

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Parley-Signature` value of a delivery."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: int | str, body: bytes, signature: str) -> bool:
    """For receivers (parley.bot and the tests): constant-time comparison."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff_ms(attempts: int, base_ms: int) -> int:
    """Delay before the next attempt once `attempts` attempts have failed: base, 2x, 4x ... capped at an hour."""
    return min(base_ms * (2 ** max(0, attempts - 1)), 3_600_000)


def webhook_url(value: Any) -> str:
    """An http(s) URL with a host, no credentials, no fragment."""
    if not isinstance(value, str) or not value or len(value) > URL_MAX:
        raise Invalid(f"url must be an http or https URL of at most {URL_MAX} characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise Invalid("url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url must be an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise Invalid("url must not carry credentials")
    if port == 0 or any(ord(c) < 33 for c in value):
        raise Invalid("url is not a valid URL")
    return value


def webhook_events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise Invalid(f"events must be a non-empty list of: {', '.join(WEBHOOK_EVENTS)}")
    unknown = [v for v in value if v not in WEBHOOK_EVENTS]
    if unknown:
        raise Invalid(f"events: unknown {unknown[0]!r}; use {', '.join(WEBHOOK_EVENTS)}")
    return sorted(set(value))


def command_name(value: Any) -> str:
    if not isinstance(value, str) or not COMMAND_RE.fullmatch(value):
        raise Invalid("a command name is 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit")
    if value in BUILTIN_COMMANDS:
        raise Invalid(f"/{value} is built in")
    return value


def parse_command(text: str) -> tuple[str, str] | None:
    """`/name args` -> (name, args); None for anything else (`//x` and `/ x` are plain text)."""
    if not text.startswith("/") or text.startswith("//"):
        return None
    head, _, args = text[1:].partition(" ")
    head = head.split("\n", 1)[0]
    if not COMMAND_RE.fullmatch(head):
        return None
    return head, text[1 + len(head):].strip()


def normalised(ip: Address) -> Address:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:  # 64:ff9b::a.b.c.d reaches a.b.c.d through a NAT64 gateway
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Also refused, beyond what `is_global` says: shared address space (RFC 6598) and benchmarking.
_EXTRA = tuple(ipaddress.ip_network(n) for n in ("100.64.0.0/10", "198.18.0.0/15", "0.0.0.0/8"))


def address_allowed(ip: Address | str, allowed: tuple[Network, ...]) -> bool:
    """May a webhook connect to this address? Public (global unicast) ones, or those in `allowed`."""
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip.split("%", 1)[0])
    ip = normalised(ip)
    if any(ip in net for net in allowed if net.version == ip.version):
        return True
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return False
    return not any(ip in net for net in _EXTRA if net.version == ip.version)


@dataclass(frozen=True, slots=True)
class Hook:
    """An outgoing webhook as the dispatcher matches it."""

    id: int
    bot_id: int
    events: frozenset[str]
    rooms: frozenset[int] | None  # None: every room the bot is in


def matches(hook: Hook, *, room_id: int, direct: bool, sender_id: int | None, mentions: list[int],
            text: str, commands: frozenset[str]) -> str | None:
    """Which kind of delivery a message makes for this webhook (None: none). A slash command the
    bot registered always goes to it; its own messages never do."""
    if sender_id is None or sender_id == hook.bot_id:
        return None
    if hook.rooms is not None and room_id not in hook.rooms:
        return None
    command = parse_command(text)
    if command is not None and command[0] in commands:
        return "command"
    if direct and "direct" in hook.events:
        return "direct"
    if hook.bot_id in mentions and "mention" in hook.events:
        return "mention"
    if "message" in hook.events:
        return "message"
    return None
