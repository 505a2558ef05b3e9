"""A small asyncio client for Parley bots (issue 12), over the public API only.

    bot = Bot("https://chat.example", token)

    @bot.on_message
    async def echo(message):
        if message.text == "ping":
            await message.reply("pong")

    @bot.on_command("roll")
    async def roll(message, args):
        await message.reply(str(random.randint(1, 6)))

    asyncio.run(bot.run())

It connects to `/ws` with `Authorization: Bearer <token>`, keeps one cursor per room, and after a
dropped connection reconnects (with back-off) with `?resume=<those cursors>`: the server replays
what it missed, in order, before anything live, so no event is missed or handled twice. Sends go over
the socket with a `client_msg_id`: one re-sent after a reconnect is stored once. Handlers are
started in the order the events came, each as its own task (so that it may await its own sends).

`verify_signature` checks an outgoing webhook's `X-Parley-Signature` for bots that take webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from parley.core.bots import parse_command, verify
from parley.core.cursors import encode_cursors

__all__ = ["Bot", "Message", "verify_signature"]
log = logging.getLogger("parley.bot")
Handler = Callable[..., Awaitable[Any]]


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300) -> bool:
    """True when `signature` (X-Parley-Signature) signs `timestamp` (X-Parley-Timestamp) and `body`
    with the webhook's secret, and the timestamp is recent (a replayed delivery is refused)."""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return age <= max_age_s and verify(secret, timestamp, body, signature)


class Message:
    """A `message` event, with shortcuts back to the bot."""

    def __init__(self, bot: Bot, event: dict[str, Any]) -> None:
        self.bot = bot
        self.event = event
        self.room: int = event["room"]
        self.seq: int = event["seq"]
        self.text: str = event.get("text") or ""
        self.sender: dict[str, Any] = event.get("sender") or {}
        self.mentions: list[int] = event.get("mentions") or []

    @property
    def mentioned(self) -> bool:
        return self.bot.user is not None and self.bot.user["id"] in self.mentions

    @property
    def command(self) -> tuple[str, str] | None:
        return parse_command(self.text)

    async def reply(self, text: str) -> dict[str, Any]:
        return await self.bot.send(self.room, text, reply_to=self.seq)

    async def react(self, emoji: str) -> None:
        await self.bot.react(self.room, self.seq, emoji)


class Bot:
    def __init__(self, base_url: str, token: str, *, session: aiohttp.ClientSession | None = None,
                 reconnect_max_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.user: dict[str, Any] | None = None
        self.cursors: dict[int, int] = {}
        self.reconnect_max_s = reconnect_max_s
        self._session = session
        self._own_session = session is None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._message_handlers: list[Handler] = []
        self._event_handlers: list[Handler] = []
        self._commands: dict[str, Handler] = {}
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._refs = itertools.count(1)
        self._connected = asyncio.Event()
        self._stopping = False
        self.connections = 0  # how many times it connected (1 + reconnects)

    # -- registration ------------------------------------------------------------------------------------
    def on_message(self, handler: Handler) -> Handler:
        """`async def handler(message: Message)` for every message of others in the bot's rooms."""
        self._message_handlers.append(handler)
        return handler

    def on_event(self, handler: Handler) -> Handler:
        """`async def handler(event: dict)` for every room event (members, edits, reactions...)."""
        self._event_handlers.append(handler)
        return handler

    def on_command(self, name: str) -> Callable[[Handler], Handler]:
        """`async def handler(message, args)` for `/name args`; register the names with `register_commands`."""
        def add(handler: Handler) -> Handler:
            self._commands[name] = handler
            return handler
        return add

    # -- REST --------------------------------------------------------------------------------------------
    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def api(self, method: str, path: str, json: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.session.request(method, self.base_url + path, json=json, headers=headers) as response:
            body = await response.json() if response.content_type == "application/json" else None
            if response.status >= 400:
                error = (body or {}).get("error", {})
                raise BotError(response.status, error.get("code", ""), error.get("message", ""))
            return body

    async def register_commands(self, descriptions: dict[str, str] | None = None) -> None:
        """Tell the server which slash commands this bot answers (those given to `on_command`)."""
        me = self.user or await self.api("GET", "/api/v1/me")
        descriptions = descriptions or {}
        await self.api("PUT", f"/api/v1/bots/{me['id']}/commands", {"commands": [
            {"name": n, "description": descriptions.get(n, "")} for n in sorted(self._commands)]})

    async def react(self, room: int, seq: int, emoji: str) -> None:
        await self.api("PUT", f"/api/v1/rooms/{room}/messages/{seq}/reactions/{quote(emoji)}")

    # -- the socket --------------------------------------------------------------------------------------
    async def send(self, room: int, text: str, *, reply_to: int | None = None,
                   client_msg_id: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Post a message; returns its `ack`. Re-sent with the same id across a reconnect."""
        cmid = client_msg_id or "bot-" + secrets.token_hex(8)
        frame: dict[str, Any] = {"type": "send", "room": room, "text": text, "client_msg_id": cmid}
        if reply_to is not None:
            frame["reply_to"] = reply_to
        deadline = time.monotonic() + timeout
        while True:
            await asyncio.wait_for(self._connected.wait(), max(0.1, deadline - time.monotonic()))
            ref = f"r{next(self._refs)}"
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending[ref] = future
            try:
                assert self._ws is not None
                await self._ws.send_json({**frame, "ref": ref})
                answer = await asyncio.wait_for(asyncio.shield(future), max(0.1, deadline - time.monotonic()))
            except (ConnectionError, aiohttp.ClientError, RuntimeError):
                continue  # the socket went: send again (same client_msg_id) once reconnected
            finally:
                self._pending.pop(ref, None)
            if answer.get("type") == "error":
                if answer.get("code") == "unavailable":
                    continue
                raise BotError(0, answer.get("code", ""), answer.get("message", ""))
            return answer

    async def run(self) -> None:
        """Connect and handle events until `stop()`; reconnects and resumes after any drop."""
        delay = 0.5
        try:
            while not self._stopping:
                try:
                    await self._session_once()
                    delay = 0.5
                except (TimeoutError, aiohttp.ClientError, ConnectionError, OSError) as exc:
                    log.info("connection lost (%s); reconnecting in %.1f s", exc, delay)
                if self._stopping:
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max_s)
        finally:
            if self._own_session and self._session is not None:
                await self._session.close()
                self._session = None

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def _session_once(self) -> None:
        url = self.base_url.replace("http", "ws", 1) + "/ws"
        if self.cursors:  # a reconnect: the server replays what came after them, in order, before anything live
            url += "?resume=" + encode_cursors(self.cursors)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.session.ws_connect(url, headers=headers, heartbeat=30) as ws:
            self._ws = ws
            first = True
            try:
                async for msg in ws:
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        continue
                    frame = msg.json()
                    if first and frame.get("type") == "hello":
                        first = False
                        await self._hello(frame)
                        continue
                    await self._frame(frame)
            finally:
                self._connected.clear()
                self._ws = None
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(ConnectionError("the socket closed"))
        if ws.close_code in (4001,):
            raise BotError(401, "unauthorized", "the token was revoked")

    async def _hello(self, frame: dict[str, Any]) -> None:
        self.user = frame["user"]
        self.connections += 1
        rooms = {int(k): v for k, v in frame.get("rooms", {}).items()}
        for room, seq in rooms.items():  # first sight of a room (resumed ones keep their cursor)
            self.cursors.setdefault(room, seq)
        self._connected.set()

    async def _frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        ref = frame.get("ref")
        if kind in ("ack", "error") and isinstance(ref, str) and ref in self._pending:
            future = self._pending[ref]
            if not future.done():
                future.set_result(frame)
            return
        if "seq" not in frame or "room" not in frame or kind in ("ack", "read", "done"):
            return
        room, seq = frame["room"], frame["seq"]
        if seq <= self.cursors.get(room, 0):
            return  # handled already (a replay overlapping what came live)
        self.cursors[room] = seq
        for handler in self._event_handlers:
            await self._call(handler, frame)
        if kind != "message" or (frame.get("sender") or {}).get("id") == (self.user or {}).get("id"):
            return
        message = Message(self, frame)
        command = message.command
        if command is not None and command[0] in self._commands:
            await self._call(self._commands[command[0]], message, command[1])
            return
        for handler in self._message_handlers:
            await self._call(handler, message)

    async def _call(self, handler: Handler, *args: Any) -> None:
        """A handler runs as its own task, so that it may `send` and wait for the ack the reader brings."""
        task = asyncio.create_task(handler(*args))
        task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[Any]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if task.exception() is not None:
            log.error("a handler failed", exc_info=task.exception())


class BotError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
