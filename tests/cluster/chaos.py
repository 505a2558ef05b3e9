"""A WebSocket chat client that behaves like a careful real one under failures, and keeps score.

It reconnects (through nginx) whenever its socket drops, resumes from its own cursors, and resends
every unacknowledged message with its original client_msg_id. It accepts a room event only as
`cursor + 1` and records everything the server does wrong:

- a duplicate (an event at or below the cursor, or one it holds already), at any time: a
  connection never sends an event twice;
- a gap (an event beyond `cursor + 1`), except between a reconnect's `hello` and its `resumed`:
  live events sent after `hello` are newer than the client's cursor of a room it missed events in.
  They are kept (they are not sent again), and accepted once the resume has filled in what came
  before them;
- a `resumed` whose cursors are not where the client stands, a `rate_limited` answer, or an ack
  that disagrees with an earlier ack of the same client_msg_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

import aiohttp
import orjson


class ChaosClient:
    def __init__(self, index: int, http: aiohttp.ClientSession, base: str, token: str, user_id: int,
                 rooms: list[int]) -> None:
        self.index = index
        self.http = http
        self.url = base.replace("http", "ws", 1) + f"/ws?token={token}"
        self.user_id = user_id
        self.rooms = rooms
        self.cursors: dict[int, int] = {}
        self.start: dict[int, int] = {}
        self.accepted: dict[int, list[int]] = {r: [] for r in rooms}
        self.messages: dict[int, list[str | None]] = {r: [] for r in rooms}  # client_msg_ids, in order
        self.violations: list[str] = []
        self.nodes: list[str] = []
        self.connects = 0
        self.connect_failures = 0
        self.ahead_while_resuming = 0
        self._ahead: dict[int, dict[int, dict[str, Any]]] = {}  # room -> seq -> event held while resuming
        self.acked: dict[str, tuple[int, int]] = {}  # client_msg_id -> (room, seq)
        self.unacked: dict[str, tuple[int, str, float]] = {}  # client_msg_id -> (room, text, last sent)
        self.errors: dict[str, int] = {}
        self.sent = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ready = asyncio.Event()
        self._stopping = False
        self._resuming = False
        self._task: asyncio.Task[None] | None = None
        self.connected_once = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                ws = await self.http.ws_connect(self.url, heartbeat=None, timeout=aiohttp.ClientWSTimeout(ws_close=2))
            except (TimeoutError, aiohttp.ClientError, OSError):
                self.connect_failures += 1
                await asyncio.sleep(0.2 + random.random() * 0.3)
                continue
            self._ws = ws
            self.connects += 1
            try:
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        await self._on_frame(orjson.loads(msg.data))
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
            finally:
                self._ready.clear()
                self._ws = None
            if not self._stopping:
                await asyncio.sleep(random.random() * 0.3)  # spread the reconnects a little

    # -- frames in ---------------------------------------------------------------------------

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "hello":
            await self._on_hello(frame)
        elif kind == "ack":
            cmid = frame["client_msg_id"]
            where = (frame["room"], frame["seq"])
            if cmid in self.acked and self.acked[cmid] != where:
                self.violations.append(f"{cmid} acked as {where} after {self.acked[cmid]}")
            self.acked[cmid] = where
            self.unacked.pop(cmid, None)
        elif kind == "error":
            code = frame.get("code", "?")
            self.errors[code] = self.errors.get(code, 0) + 1
            if code == "rate_limited":
                self.violations.append(f"rate_limited: {frame}")
            ref = frame.get("ref")
            if isinstance(ref, str) and ref in self.unacked:  # retry it soon, same id
                room, text, _ = self.unacked[ref]
                self.unacked[ref] = (room, text, 0.0)
        elif kind == "resumed":
            self._resuming = False
            for room, seq in frame["cursors"].items():
                if self.cursors.get(int(room)) != seq:
                    self.violations.append(f"resumed at {room}.{seq} while the client holds {self.cursors.get(int(room))}")
            held = {room: sorted(ahead) for room, ahead in self._ahead.items() if ahead}
            if held:
                self.violations.append(f"resumed with events still ahead of a gap: {held}")
        elif "seq" in frame and "room" in frame and kind != "read":
            self._on_event(frame)

    async def _on_hello(self, frame: dict[str, Any]) -> None:
        self.nodes.append(frame["node"])
        self._ahead = {}  # a new connection: what the last one held ahead is sent again
        server = {int(r): s for r, s in frame["rooms"].items()}
        if not self.start:
            self.start = dict(server)
            self.cursors = dict(server)
        else:
            behind = {r: c for r, c in self.cursors.items() if c < server.get(r, c)}
            for room, cursor in self.cursors.items():
                if cursor > server.get(room, cursor):
                    self.violations.append(f"hello says room {room} ends at {server[room]}, client holds {cursor}")
            if behind:
                self._resuming = True
                await self._send({"type": "resume", "cursors": {str(r): c for r, c in self.cursors.items()},
                                  "ref": "resume"})
        self._ready.set()
        self.connected_once.set()
        for cmid, (room, text, _) in list(self.unacked.items()):  # resend everything unacknowledged
            await self._send_message(cmid, room, text)

    def _on_event(self, frame: dict[str, Any]) -> None:
        room, seq = frame["room"], frame["seq"]
        cursor = self.cursors.get(room)
        if cursor is None:
            self.violations.append(f"event of room {room}, which this client is not in")
        elif seq <= cursor or seq in self._ahead.get(room, {}):
            self.violations.append(f"duplicate {room}.{seq} (cursor {cursor}, connection {self.connects},"
                                   f" resuming {self._resuming})")
        elif seq == cursor + 1:
            self._accept(room, frame)
            ahead = self._ahead.get(room, {})
            while self.cursors[room] + 1 in ahead:
                self._accept(room, ahead.pop(self.cursors[room] + 1))
        elif self._resuming:
            self.ahead_while_resuming += 1
            self._ahead.setdefault(room, {})[seq] = frame
        else:
            self.violations.append(f"gap: {room}.{seq} after {cursor}")

    def _accept(self, room: int, frame: dict[str, Any]) -> None:
        self.cursors[room] = frame["seq"]
        self.accepted[room].append(frame["seq"])
        if frame["type"] == "message":
            self.messages[room].append(frame.get("client_msg_id"))

    # -- frames out --------------------------------------------------------------------------

    async def _send(self, frame: dict[str, Any]) -> bool:
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_str(orjson.dumps(frame).decode())
            return True
        except (aiohttp.ClientError, OSError, ConnectionError, RuntimeError):
            return False

    async def _send_message(self, cmid: str, room: int, text: str) -> None:
        self.unacked[cmid] = (room, text, time.monotonic())
        await self._send({"type": "send", "room": room, "text": text, "client_msg_id": cmid, "ref": cmid})

    async def talk(self, until: float, interval: float) -> None:
        """Send a message now and then until `until`; unanswered ones are resent after 5 s."""
        n = 0
        await asyncio.sleep(random.random() * interval)
        while time.monotonic() < until:
            cmid = f"c{self.index}-{n}"
            n += 1
            self.sent += 1
            room = self.rooms[n % len(self.rooms)]
            await self._send_message(cmid, room, f"message {cmid}")
            await self.retry_stale()
            await asyncio.sleep(interval * (0.5 + random.random()))

    async def retry_stale(self, older_than: float = 5.0) -> None:
        if not self._ready.is_set():
            return  # the reconnect resends everything
        now = time.monotonic()
        for cmid, (room, text, at) in list(self.unacked.items()):
            if now - at > older_than:
                await self._send_message(cmid, room, text)

    async def settle(self, timeout: float) -> None:
        """Keep resending until every message is acknowledged."""
        deadline = time.monotonic() + timeout
        while self.unacked and time.monotonic() < deadline:
            await self.retry_stale(older_than=2.0)
            await asyncio.sleep(0.5)
