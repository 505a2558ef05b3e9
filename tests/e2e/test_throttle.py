"""Throttling over HTTP against a real server: bursts of guesses, password changes, memory under
a flood of huge names, and which peers may name the client (X-Forwarded-*)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from tests.conftest import new_user
from tests.support.client import ApiError
from tests.support.server import FAST_LIMITS, ServerProcess

LOGIN = "/api/v1/auth/login"
MIB = 1 << 20


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    """Start real servers with extra settings; all stopped at the end."""
    started: list[ServerProcess] = []

    def run(**env: str) -> ServerProcess:
        workdir = tmp_path / f"s{len(started)}"
        workdir.mkdir()
        proc = ServerProcess(f"sqlite:///{workdir / 'parley.db'}", workdir, env={**FAST_LIMITS, **env}).start()
        started.append(proc)
        return proc

    yield run
    for proc in started:
        proc.stop()


async def login_status(http: aiohttp.ClientSession, base: str, username: str, password: str,
                       headers: dict[str, str] | None = None) -> int:
    async with http.post(base + LOGIN, json={"username": username, "password": password},
                         headers=headers or {}) as resp:
        await resp.read()
        if resp.status == 429:
            assert int(resp.headers["Retry-After"]) >= 1
            assert (await resp.json())["error"]["code"] == "rate_limited"
        return resp.status


async def test_concurrent_guesses_are_checked_at_most_burst_times(server, http, names):
    """39 wrong passwords and the right one, all at once, from one address that never failed before:
    at most 5 (login_rate_burst) are checked, the rest are refused with 429."""
    name = names()
    await new_user(http, server.url, name, password="right secret 1")
    guesses = [f"wrong secret {i}" for i in range(39)] + ["right secret 1"]
    statuses = await asyncio.gather(*(login_status(http, server.url, name, pw) for pw in guesses))
    assert sum(s != 429 for s in statuses) <= 5, statuses
    assert set(statuses) <= {401, 429, 200}
    assert statuses[-1] == 429


async def test_password_change_is_throttled_per_user(server, http, names):
    name = names()
    api = await new_user(http, server.url, name, password="right secret 1")
    statuses = []
    for current in ["wrong secret"] * 6 + ["right secret 1"]:
        try:
            await api.call("POST", "/api/v1/me/password", {"current_password": current,
                                                           "new_password": "another secret 2"})
            statuses.append(200)
        except ApiError as err:
            statuses.append(err.status)
    assert statuses == [403] * 5 + [429, 429]
    assert (await api.call("GET", "/api/v1/me"))["username"] == name  # nothing changed, still logged in


async def test_huge_usernames_do_not_grow_the_server(start, http):
    """Hundreds of logins, four at a time, each with another 250,000-character name: none can exist,
    so none may leave a rate bucket (or anything else) behind. A bound on memory, not on time."""
    server = start()
    process = psutil.Process(server.proc.pid)
    sem = asyncio.Semaphore(4)

    async def attempt(i: int) -> int:
        body = {"username": f"{i:06d}" + "a" * 249_994, "password": "whatever secret"}
        async with sem, http.post(server.url + LOGIN, json=body) as resp:
            await resp.read()
            return resp.status

    await asyncio.gather(*(attempt(i) for i in range(50)))  # warm up the server's buffers
    before = process.memory_info().rss
    statuses = await asyncio.gather(*(attempt(i) for i in range(50, 650)))
    grown = process.memory_info().rss - before
    assert grown < 10 * MIB, f"RSS grew by {grown / MIB:.1f} MiB"
    assert set(statuses) == {401}  # such a name is simply wrong: no bucket, so never a 429


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(start, http, names):
    """PARLEY_TRUST_PROXY on, but this client (127.0.0.1) is not a listed proxy: rotating
    X-Forwarded-For must not give it a fresh bucket per guess, nor may it claim HTTPS or a host."""
    server = start(PARLEY_TRUST_PROXY="true", PARLEY_TRUSTED_PROXIES="192.0.2.1/32")
    name = names()
    await new_user(http, server.url, name, password="right secret 1")
    statuses = [await login_status(http, server.url, name, "wrong secret",
                                   {"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    other = names()
    await new_user(http, server.url, other, password="right secret 1")
    async with http.post(server.url + LOGIN, json={"username": other, "password": "right secret 1"},
                         headers={"X-Forwarded-Proto": "https"}) as resp:
        assert resp.status == 200
        assert "secure" not in resp.headers["Set-Cookie"].lower()
    ws_url = server.url.replace("http", "ws") + "/ws"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(ws_url, origin="https://evil.example", headers={"X-Forwarded-Host": "evil.example"})
    assert err.value.status == 403


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(start, http, names):
    """With 127.0.0.1 trusted (the default), the right-most forwarded address is the client: two
    addresses have separate buckets, and whatever a client writes further left changes nothing."""
    server = start(PARLEY_TRUST_PROXY="true")
    name = names()
    await new_user(http, server.url, name, password="right secret 1")

    async def guess(chain: str) -> int:
        return await login_status(http, server.url, name, "wrong secret", {"X-Forwarded-For": chain})

    assert [await guess(f"10.9.9.{i}, 198.51.100.7") for i in range(6)] == [401] * 5 + [429]
    assert await guess("198.51.100.8") == 401  # another client, its own bucket
    async with http.post(server.url + LOGIN, json={"username": name, "password": "right secret 1"},
                         headers={"X-Forwarded-For": "198.51.100.9", "X-Forwarded-Proto": "https"}) as resp:
        assert resp.status == 200
        assert "secure" in resp.headers["Set-Cookie"].lower()
    ws = await http.ws_connect(server.url.replace("http", "ws") + "/ws", origin="https://chat.example",
                               headers={"X-Forwarded-Host": "chat.example"})
    await ws.close()
