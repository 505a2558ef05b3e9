"""Clients and checks shared by the multi-node tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg
import orjson

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


class SseStream:
    """A real Server-Sent Events reader: parses `id:`, `data:` and comment lines off the wire."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp
        self.events: list[tuple[str | None, dict[str, Any]]] = []  # (id, data)
        self.comments: list[tuple[float, str]] = []  # (monotonic time, text)
        self.last_id: str | None = None
        self.opened = time.monotonic()
        self._new = asyncio.Event()
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, base: str, token: str,
                   last_event_id: str | None = None) -> SseStream:
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        resp = await http.get(base + "/api/v1/events", headers=headers,
                              timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
        if resp.status != 200:
            body = await resp.text()
            resp.release()
            raise AssertionError(f"GET /api/v1/events answered {resp.status}: {body}")
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        return cls(resp)

    async def _read(self) -> None:
        event_id: str | None = None
        data: list[str] = []
        try:
            async for raw in self.resp.content:
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if data:
                        if event_id is not None:
                            self.last_id = event_id
                        self.events.append((event_id, orjson.loads("\n".join(data))))
                    event_id, data = None, []
                    self._new.set()
                elif line.startswith(":"):
                    self.comments.append((time.monotonic(), line[1:].strip()))
                    self._new.set()
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "id":
                        event_id = value
                    elif field == "data":
                        data.append(value)
        except (aiohttp.ClientError, asyncio.CancelledError):
            pass
        finally:
            self.closed.set()
            self._new.set()

    @property
    def frames(self) -> list[dict[str, Any]]:
        return [data for _, data in self.events]

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15.0) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            seen = 0
            while True:
                for _, frame in self.events[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.events)
                if self.closed.is_set():
                    raise ConnectionError("event stream closed before the event came")
                self._new.clear()
                await self._new.wait()

        return await asyncio.wait_for(find(), timeout)

    async def wait_comment(self, timeout: float) -> tuple[float, str]:
        async def find() -> tuple[float, str]:
            while not self.comments:
                if self.closed.is_set():
                    raise ConnectionError("event stream closed before a comment came")
                self._new.clear()
                await self._new.wait()
            return self.comments[0]

        return await asyncio.wait_for(find(), timeout)

    async def close(self) -> None:
        self.resp.close()
        self._reader.cancel()
        with_suppress = asyncio.gather(self._reader, return_exceptions=True)
        await with_suppress


async def node_ids(http: aiohttp.ClientSession, nodes: list[Any], token: str) -> dict[str, Any]:
    """Bus node id (as `hello` names it) -> the node process."""
    found: dict[str, Any] = {}
    for node in nodes:
        probe = await Socket.open(http, node.url, token)
        found[probe.frames[0]["node"]] = node
        await probe.close()
    return found
