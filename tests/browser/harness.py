"""A real `parley serve` for the browser tests and scripts/screenshots.py, plus REST and WebSocket
helpers to set the scene quickly (users, rooms, many messages) before the browser looks at it."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.client import ApiError
from tests.support.server import FAST_LIMITS, ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "parley-browser-test-password"
_names = itertools.count(1)


@dataclass
class User:
    id: int
    username: str
    display_name: str
    token: str


class Server(ServerProcess):
    """One `parley serve` on a free port with its own SQLite file under `workdir`."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(f"sqlite:///{workdir / 'parley.db'}", workdir,
                         {**FAST_LIMITS, "PARLEY_SQLITE_SYNCHRONOUS": "NORMAL", **(env or {})},
                         migrate=False, log_name="server.log")

    def start(self, timeout: float = 30.0) -> Server:
        subprocess.run([sys.executable, "-m", "parley", "db", "upgrade", "--database-url", self.database_url],
                       cwd=self.workdir, env=self.env, check=True, capture_output=True, timeout=60)
        try:
            super().start(timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    # -- REST ----------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, user: User | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if user:
            headers["Authorization"] = f"Bearer {user.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/api/v1{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            raise ApiError(exc.code, json.loads(text) if exc.headers.get_content_type() == "application/json"
                           else text) from None
        return json.loads(raw) if raw else None

    def register(self, name: str = "user", display_name: str | None = None, *, unique: bool = True) -> User:
        """A new user called `name`, with a number added unless `unique` is false."""
        username = f"{name}{next(_names)}" if unique else name
        body: dict[str, Any] = {"username": username, "password": PASSWORD}
        if display_name is not None:
            body["display_name"] = display_name
        answer = self.call("POST", "/auth/register", body)
        user = answer["user"]
        return User(user["id"], user["username"], user["display_name"], answer["token"])

    def create_room(self, owner: User, name: str, topic: str = "", visibility: str = "public",
                    members: tuple[User, ...] = ()) -> dict[str, Any]:
        room = self.call("POST", "/rooms", {"name": name, "topic": topic, "visibility": visibility}, owner)
        for member in members:
            if visibility == "private":
                self.call("POST", f"/rooms/{room['id']}/invite", {"usernames": [member.username]}, owner)
            self.call("POST", f"/rooms/{room['id']}/join", {}, member)
        return room

    def post(self, user: User, room_id: int, text: str) -> dict[str, Any]:
        return self.call("POST", f"/rooms/{room_id}/messages", {"text": text}, user)

    def upload(self, user: User, room_id: int, name: str, data: bytes,
               content_type: str = "application/octet-stream") -> dict[str, Any]:
        """Uploads a file (multipart, part `file`); returns the stored upload object."""
        return self._multipart("POST", f"/rooms/{room_id}/uploads", user, name, data, content_type)["upload"]

    def set_avatar(self, user: User, data: bytes, content_type: str = "image/png") -> dict[str, Any]:
        """`PUT /me/avatar`; returns the user object."""
        return self._multipart("PUT", "/me/avatar", user, "avatar.png", data, content_type)

    def _multipart(self, method: str, path: str, user: User, name: str, data: bytes, content_type: str) -> Any:
        boundary = f"parley-{time.monotonic_ns()}"
        quoted = name.replace('"', "%22")
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(f"{self.url}/api/v1{path}", data=body, method=method,
                                         headers={"Authorization": f"Bearer {user.token}",
                                                  "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def post_many(self, user: User, room_id: int, texts: list[str]) -> None:
        """Sends many messages fast over one WebSocket (pipelined), waiting for every ack."""
        error: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self._send_all(user, room_id, texts))
            except BaseException as exc:  # noqa: BLE001 - reported to the caller's thread
                error.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        if error:
            raise error[0]

    async def _send_all(self, user: User, room_id: int, texts: list[str]) -> None:
        ws_url = f"ws://127.0.0.1:{self.port}/ws?token={user.token}"
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
            waiting = set()
            for i, text in enumerate(texts):
                cid = f"bulk-{room_id}-{i}-{time.monotonic_ns()}"
                waiting.add(cid)
                await ws.send_str(json.dumps({"type": "send", "room": room_id, "text": text, "client_msg_id": cid}))
            async with asyncio.timeout(300):
                while waiting:
                    frame = json.loads((await ws.receive()).data)
                    if frame["type"] == "ack":
                        waiting.discard(frame["client_msg_id"])
                    elif frame["type"] == "error":
                        raise RuntimeError(f"bulk send failed: {frame}")
