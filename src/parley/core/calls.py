"""Voice and video calls (issue 13): who may call, the mesh's size, ICE servers and TURN credentials.

Parley is only the signalling server: browsers exchange SDP offers and answers and ICE candidates
through it (client frames `call_*`, docs/protocol.md) and send their media to each other, directly
or through a TURN relay. Pure rules, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

from parley.core import moderation, permissions
from parley.core.errors import Invalid
from parley.core.models import Membership, Room

MAX_PEERS = 8  # a mesh: each sends its media to every other; beyond 8 an SFU is the way (docs/operations.md)
SDP_MAX = 32_000  # characters of one offer or answer (a video offer is 3-8 KB)
CANDIDATE_MAX = 1_000
PEER_ID_BYTES = 9  # a participant connection's id: 12 URL-safe characters
NO_CALL = "no such call, or you may not see it"


def require_caller(room: Room | None, membership: Membership | None, now: int) -> Room:
    """Starting, joining and signalling into a call: joined members who may post (not muted, not in
    an announcement room below moderator, not archived). Others see no room (404) or 403."""
    room = permissions.require_poster(room, membership)
    assert membership is not None
    moderation.require_sender(room, membership, now)
    return room


def may_end(membership: Membership | None, started_by: int | None, user_id: int, in_call: bool) -> bool:
    """Ending a call for everyone: whoever started it, anyone in it, or the room's moderators."""
    if started_by == user_id or in_call:
        return True
    return membership is not None and moderation.exempt(membership)


def turn_credentials(secret: str, user_id: int, now_s: int, ttl_s: int) -> tuple[str, str]:
    """coturn's `use-auth-secret` (the TURN REST API): username `<expiry>:<user id>`, credential
    base64(HMAC-SHA1(secret, username)). coturn checks the HMAC and that the expiry is ahead."""
    username = f"{now_s + ttl_s}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def parse_ice_servers(spec: str) -> list[dict[str, Any]]:
    """PARLEY_ICE_SERVERS: a JSON list of RTCIceServer objects (`[{"urls": ["stun:host:3478"]}]`),
    or comma-separated URLs (`stun:a:3478,stun:b:3478`). Raises Invalid when it is neither."""
    spec = spec.strip()
    if not spec:
        return []
    if spec.startswith("["):
        try:
            servers = orjson.loads(spec)
        except orjson.JSONDecodeError as exc:
            raise Invalid(f"PARLEY_ICE_SERVERS is not valid JSON: {exc}") from None
        if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
            raise Invalid("PARLEY_ICE_SERVERS must be a list of objects with `urls`")
        return [{"urls": _urls(s["urls"]), **{k: s[k] for k in ("username", "credential") if k in s}}
                for s in servers]
    return [{"urls": _urls(spec.split(","))}]


def split_urls(spec: str) -> list[str]:
    return _urls(spec.split(",")) if spec.strip() else []


def _urls(value: object) -> list[str]:
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list):
        raise Invalid("ICE server urls must be a string or a list of strings")
    out = [u.strip() for u in urls if isinstance(u, str) and u.strip()]
    for url in out:
        if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
            raise Invalid(f"ICE server URL {url!r} must start with stun:, stuns:, turn: or turns:")
    if not out:
        raise Invalid("an ICE server needs at least one URL")
    return out


def ice_servers(static: list[dict[str, Any]], turn_urls: list[str], secret: str, ttl_s: int, user_id: int,
                now_s: int) -> dict[str, Any]:
    """What `GET /calls/ice` answers: the configured servers, and the TURN URLs with credentials of
    this user valid for `ttl_s` seconds (no static TURN password ever reaches a browser)."""
    servers = list(static)
    if turn_urls and secret:
        username, credential = turn_credentials(secret, user_id, now_s, ttl_s)
        servers.append({"urls": turn_urls, "username": username, "credential": credential})
    return {"ice_servers": servers, "ttl_s": ttl_s if turn_urls and secret else None}


def duration_ms(answered_at: int | None, ended_at: int) -> int:
    """A call lasts from its answer (a second person joining) to its end; an unanswered one: 0."""
    return 0 if answered_at is None else max(0, ended_at - answered_at)
