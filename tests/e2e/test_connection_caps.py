"""Caps on the WebSocket and SSE connections of one user and of one address, on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import new_user
from tests.support.client import Socket
from tests.support.server import FAST_LIMITS, ServerProcess
from tests.support.sse import SseStream

PER_USER, PER_ADDRESS = 3, 6


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {**FAST_LIMITS, "PARLEY_MAX_CONNECTIONS_PER_USER": str(PER_USER),
           "PARLEY_MAX_CONNECTIONS_PER_ADDRESS": str(PER_ADDRESS)}
    proc = ServerProcess(f"sqlite:///{tmp_path / 'parley.db'}", tmp_path, env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


def _ws_url(server: ServerProcess, token: str | None = None) -> str:
    return server.url.replace("http", "ws", 1) + "/ws" + (f"?token={token}" if token else "")


async def _refused_upgrade(http: aiohttp.ClientSession, server: ServerProcess, token: str | None) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(_ws_url(server, token))
    assert err.value.status == 429
    # The same request without the upgrade shows the JSON answer.
    async with http.get(_ws_url(server, token).replace("ws", "http", 1)) as resp:
        assert resp.status == 429
        assert (await resp.json())["error"]["code"] == "too_many_connections"


async def _accepted_once_freed(http: aiohttp.ClientSession, server: ServerProcess,
                               token: str | None) -> aiohttp.ClientWebSocketResponse:
    for _ in range(100):
        try:
            return await http.ws_connect(_ws_url(server, token))
        except aiohttp.WSServerHandshakeError as err:
            assert err.status == 429
            await asyncio.sleep(0.1)
    raise AssertionError("the slot of a closed socket was not given back within 10 s")


async def test_one_user_holds_at_most_the_cap(capped, http, names):
    ann = await new_user(http, capped.url, names())
    socks = [await Socket.open(http, capped.url, ann.token) for _ in range(PER_USER)]
    await _refused_upgrade(http, capped, ann.token)
    with pytest.raises(aiohttp.ClientResponseError) as err:
        await SseStream.open(http, capped.url, ann.token)
    assert err.value.status == 429 and "too_many_connections" in err.value.message

    # Known only after the first frame: an error frame, then close code 4029.
    late = await http.ws_connect(_ws_url(capped))
    await late.send_json({"type": "auth", "token": ann.token})
    error = await late.receive_json(timeout=5)
    assert error["type"] == "error" and error["code"] == "too_many_connections"
    closing = await late.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and late.close_code == 4029

    await socks[0].close()
    again = await _accepted_once_freed(http, capped, ann.token)
    hello = await again.receive_json(timeout=5)
    assert hello["type"] == "hello"
    # Another user is not held back by ann's connections.
    bob = await new_user(http, capped.url, names())
    await (await Socket.open(http, capped.url, bob.token)).close()


async def test_one_address_holds_at_most_the_cap_even_unauthenticated(capped, http, names):
    ann = await new_user(http, capped.url, names())
    waiting = [await http.ws_connect(_ws_url(capped)) for _ in range(PER_ADDRESS)]  # no auth frame yet
    await _refused_upgrade(http, capped, None)
    await _refused_upgrade(http, capped, ann.token)
    with pytest.raises(aiohttp.ClientResponseError) as err:
        await SseStream.open(http, capped.url, ann.token)
    assert err.value.status == 429

    await waiting[0].close()
    again = await _accepted_once_freed(http, capped, ann.token)
    assert (await again.receive_json(timeout=5))["type"] == "hello"
