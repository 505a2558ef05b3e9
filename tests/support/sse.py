"""A real Server-Sent Events client: parses `id:`, `data:` and comment lines off the wire."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson


class SseStream:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.events: list[dict[str, Any]] = []  # {"id": ..., "data": parsed JSON}
        self.comments: list[tuple[float, str]] = []  # (monotonic time, text)
        self.last_id: str | None = None
        self.opened = time.monotonic()
        self.closed = asyncio.Event()
        self._new = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, token: str | None = None,
                   last_event_id: str | None = None) -> SseStream:
        """GET /api/v1/events at the server `url`; anything but 200 raises ClientResponseError."""
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        response = await http.get(url + "/api/v1/events", headers=headers,
                                  timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
        if response.status != 200:
            body = await response.text()
            response.release()
            raise aiohttp.ClientResponseError(response.request_info, (), status=response.status, message=body)
        assert response.headers["Content-Type"].startswith("text/event-stream")
        return cls(response)

    async def _read(self) -> None:
        event_id: str | None = None
        data: list[str] = []
        try:
            async for raw in self.response.content:
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if data:
                        if event_id is not None:
                            self.last_id = event_id
                        self.events.append({"id": event_id, "data": orjson.loads("\n".join(data))})
                    event_id, data = None, []
                    self._new.set()
                elif line.startswith(":"):
                    self.comments.append((time.monotonic(), line[1:].strip()))
                    self._new.set()
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "id":
                        event_id = value
                    elif name == "data":
                        data.append(value)
        except aiohttp.ClientError:
            pass  # the stream ended: `closed` says so
        finally:
            self.closed.set()
            self._new.set()

    @property
    def frames(self) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events]

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            seen = 0
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.events)
                if self.closed.is_set():
                    raise ConnectionError("the event stream ended before the event came")
                self._new.clear()
                await self._new.wait()

        return await asyncio.wait_for(find(), timeout)

    async def wait_comment(self, timeout: float) -> tuple[float, str]:
        async def find() -> tuple[float, str]:
            while not self.comments:
                if self.closed.is_set():
                    raise ConnectionError("the event stream ended before a comment came")
                self._new.clear()
                await self._new.wait()
            return self.comments[0]

        return await asyncio.wait_for(find(), timeout)

    async def close(self) -> None:
        self.response.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
