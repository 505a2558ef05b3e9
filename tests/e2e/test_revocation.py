"""Revocations made by another process (the `parley` CLI) reach a running server's open connections."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys

import aiohttp
import pytest

from tests.conftest import new_user
from tests.support.client import ApiError, Socket
from tests.support.sse import SseStream


async def _disable(server, name: str) -> None:
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "parley", "user", "disable", name, "--database-url",
                         server.database_url], capture_output=True, text=True, cwd=server.workdir, timeout=60)
    assert result.returncode == 0, result.stderr


async def test_cli_disable_closes_open_sockets_and_streams_and_refuses_their_sends(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names("bob"))
    room = (await ann.create_room("revoked"))["id"]
    await bob.join(room)
    sock = await Socket.open(http, server.url, bob.token)
    spare = await Socket.open(http, server.url, bob.token)
    stream = await SseStream.open(http, server.url, bob.token)
    await stream.wait_for(lambda f: f["type"] == "hello")
    assert (await sock.send_message(room, "before", "before"))["type"] == "ack"

    await _disable(server, bob.user["username"])
    # Right after the CLI returned: whatever the socket answers, it is never an ack (the node reads
    # the revocation log every second, so the socket may be closing already).
    with contextlib.suppress(aiohttp.ClientConnectionResetError):
        await spare.send({"type": "send", "room": room, "text": "after", "client_msg_id": "after", "ref": 99})

    await asyncio.wait_for(sock.closed.wait(), 5)
    assert sock.ws.close_code == 4001
    await asyncio.wait_for(spare.closed.wait(), 5)
    assert spare.ws.close_code == 4001
    assert not [f for f in spare.frames if f.get("ref") == 99 and f["type"] == "ack"]
    await asyncio.wait_for(stream._task, 5)  # the event stream ends
    assert stream.response.content.at_eof()

    texts = [m["text"] for m in (await ann.history(room))["messages"] if m["type"] == "message"]
    assert texts == ["before"]
    with pytest.raises(ApiError) as err:
        await bob.send(room, "over REST")
    assert err.value.status == 401
