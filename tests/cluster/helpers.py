"""Clients and checks shared by the multi-node tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg

from tests.support.client import Api, Socket


def uname(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def register(http: aiohttp.ClientSession, base: str, prefix: str = "u") -> Api:
    return await Api(http, base).register(uname(prefix))


def room_seqs(sock: Socket, room: int) -> list[int]:
    """Seqs of the room-log events a socket received, in arrival order."""
    return [f["seq"] for f in sock.events(room)]


async def wait_seq(sock: Socket, room: int, seq: int, timeout: float = 15.0) -> None:
    await sock.wait_for(lambda f: f.get("room") == room and f.get("seq", 0) >= seq and "seq" in f
                        and f["type"] not in ("ack", "read"), timeout)


def assert_gap_free(seqs: list[int], first: int, last: int, who: str = "") -> None:
    """Exactly first..last, each once, in order."""
    if seqs != list(range(first, last + 1)):
        dups = sorted({s for s in seqs if seqs.count(s) > 1})
        missing = sorted(set(range(first, last + 1)) - set(seqs))
        raise AssertionError(f"{who}: expected seqs {first}..{last} once each in order; got {len(seqs)} events, "
                             f"duplicates {dups[:20]}, missing {missing[:20]}, first ones {seqs[:20]}")


async def room_log(db: asyncpg.Connection, room: int) -> list[asyncpg.Record]:
    return await db.fetch("SELECT seq, type, sender_id, client_msg_id, text FROM events WHERE room_id = $1 "
                          "ORDER BY seq", room)


async def assert_log_intact(db: asyncpg.Connection, room: int) -> list[asyncpg.Record]:
    """The room's stored log is 1..last_seq with no gap, and rooms.last_seq agrees."""
    rows = await room_log(db, room)
    last = await db.fetchval("SELECT last_seq FROM rooms WHERE id = $1", room)
    assert [r["seq"] for r in rows] == list(range(1, last + 1)), f"room {room}: stored seqs are not 1..{last}"
    return rows


async def eventually(check: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "") -> Any:
    """Poll an async (or plain) check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout}s (last: {last!r})")
        await asyncio.sleep(interval)


async def node_ids(http: aiohttp.ClientSession, nodes: list[Any], token: str) -> dict[str, Any]:
    """Bus node id (as `hello` names it) -> the node process."""
    found: dict[str, Any] = {}
    for node in nodes:
        probe = await Socket.open(http, node.url, token)
        found[probe.frames[0]["node"]] = node
        await probe.close()
    return found
