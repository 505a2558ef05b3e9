"""A small real client of Parley for tests: REST over aiohttp, and WebSocket frames."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aiohttp

_ids = itertools.count(1)


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body

    @property
    def code(self) -> str | None:
        return self.body.get("error", {}).get("code") if isinstance(self.body, dict) else None


class Api:
    """REST calls as one user (bearer token)."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str | None = None) -> None:
        self.http = http
        self.base = base
        self.token = token
        self.user: dict[str, Any] = {}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def call(self, method: str, path: str, json: Any = None, *, expect: int | tuple[int, ...] = (200, 201, 204),
                   raw: Any = None, headers: dict[str, str] | None = None) -> Any:
        kwargs: dict[str, Any] = {"headers": {**self._headers(), **(headers or {})}}
        if raw is not None:
            kwargs["data"] = raw
        elif json is not None:
            kwargs["json"] = json
        async with self.http.request(method, self.base + path, **kwargs) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
            expected = (expect,) if isinstance(expect, int) else expect
            if resp.status not in expected:
                raise ApiError(resp.status, body)
            return body

    async def register(self, username: str, password: str = "a long enough secret", **extra: Any) -> Api:
        answer = await self.call("POST", "/api/v1/auth/register",
                                 {"username": username, "password": password, **extra}, expect=201)
        self.token, self.user = answer["token"], answer["user"]
        return self

    async def create_room(self, name: str, visibility: str = "public", topic: str = "") -> dict[str, Any]:
        return await self.call("POST", "/api/v1/rooms", {"name": name, "visibility": visibility, "topic": topic},
                               expect=201)

    async def join(self, room_id: int) -> dict[str, Any]:
        return await self.call("POST", f"/api/v1/rooms/{room_id}/join")

    async def send(self, room_id: int, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        return await self.call("POST", f"/api/v1/rooms/{room_id}/messages",
                               {"text": text, "client_msg_id": client_msg_id})

    async def upload(self, room_id: int, name: str, data: bytes, content_type: str = "application/octet-stream",
                     *, expect: int | tuple[int, ...] = 201, path: str | None = None, method: str = "POST") -> Any:
        """A file as multipart/form-data (part `file`); the answer's body (the `upload` on 201)."""
        form = aiohttp.FormData()
        form.add_field("file", data, filename=name, content_type=content_type)
        answer = await self.call(method, path or f"/api/v1/rooms/{room_id}/uploads", raw=form, expect=expect)
        return answer["upload"] if isinstance(answer, dict) and "upload" in answer else answer

    async def fetch(self, url: str, headers: dict[str, str] | None = None, *, auth: bool = True) -> tuple[int, Any, bytes]:
        """GET a media URL: (status, headers, body)."""
        sent = {**(self._headers() if auth else {}), **(headers or {})}
        async with self.http.get(self.base + url, headers=sent) as resp:
            return resp.status, resp.headers, await resp.read()

    async def history(self, room_id: int, **params: Any) -> dict[str, Any]:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return await self.call("GET", f"/api/v1/rooms/{room_id}/messages?{query}", expect=200)


class Socket:
    """One WebSocket connection; collects every frame it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed = asyncio.Event()

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, base: str, token: str | None, *, hello: bool = True,
                   **kwargs: Any) -> Socket:
        url = base.replace("http", "ws", 1) + "/ws" + (f"?token={token}" if token else "")
        sock = cls(await http.ws_connect(url, **kwargs))
        if hello:
            await sock.wait_for(lambda f: f["type"] == "hello")
        return sock

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self.frames.append(msg.json())
                    self._new.set()
        finally:
            self.closed.set()
            self._new.set()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_json(frame)

    async def send_message(self, room: int, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        ref = next(_ids)
        cmid = client_msg_id or f"c{ref}"
        await self.send({"type": "send", "room": room, "text": text, "client_msg_id": cmid, "ref": ref})
        return await self.wait_for(lambda f: f.get("ref") == ref and f["type"] in ("ack", "error"))

    async def barrier(self) -> None:
        """A ping answered means every frame sent before it has been handled, and everything the
        server queued for this socket before the pong has arrived: the proof that nothing more came,
        where a fixed sleep would only hope so."""
        ref = f"barrier-{next(_ids)}"
        await self.send({"type": "ping", "ref": ref})
        await self.wait_for(lambda f: f["type"] == "pong" and f.get("ref") == ref)

    async def wait_for(self, predicate: Any, timeout: float = 10.0, start: int = 0) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            seen = start
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.frames)
                if self.closed.is_set():
                    raise ConnectionError(f"socket closed ({self.ws.close_code}) before the frame came")
                self._new.clear()
                await self._new.wait()

        return await asyncio.wait_for(find(), timeout)

    async def wait_count(self, predicate: Any, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        async def find() -> list[dict[str, Any]]:
            while True:
                found = [f for f in self.frames if predicate(f)]
                if len(found) >= count or self.closed.is_set():
                    return found
                self._new.clear()
                await self._new.wait()

        return await asyncio.wait_for(find(), timeout)

    def events(self, room: int, etype: str | None = None) -> list[dict[str, Any]]:
        """Room-log events of one room as received (not acks, read markers or typing)."""
        return [f for f in self.frames if f.get("room") == room and "seq" in f and f["type"] not in ("read", "ack")
                and (etype is None or f["type"] == etype)]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
