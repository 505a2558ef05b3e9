"""A real Server-Sent Events client: parses `id:`, `data:` and comment lines off the stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp


class SseStream:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.events: list[dict[str, Any]] = []  # {"id": ..., "data": parsed JSON}
        self.comments: list[str] = []
        self.last_id: str | None = None
        self._new = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, token: str | None = None,
                   last_event_id: str | None = None) -> SseStream:
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        response = await http.get(url + "/api/v1/events", headers=headers, timeout=aiohttp.ClientTimeout(total=None))
        if response.status != 200:
            body = await response.text()
            response.release()
            raise aiohttp.ClientResponseError(response.request_info, (), status=response.status, message=body)
        return cls(response)

    async def _read(self) -> None:
        event_id, data = None, []
        try:
            async for raw in self.response.content:
                line = raw.decode().rstrip("\n").rstrip("\r")
                if line == "":
                    if data:
                        if event_id is not None:
                            self.last_id = event_id
                        self.events.append({"id": event_id, "data": json.loads("\n".join(data))})
                        self._new.set()
                    event_id, data = None, []
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    self._new.set()
                elif line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
        finally:
            self._new.set()

    @property
    def frames(self) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            seen = 0
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.events)
                if self._task.done():
                    raise ConnectionError("the event stream ended")
                self._new.clear()
                await self._new.wait()

        return await asyncio.wait_for(find(), timeout)

    async def close(self) -> None:
        self._task.cancel()
        self.response.close()
