"""HTTPS and WSS, served by `parley serve --tls-cert/--tls-key` itself and by deploy/nginx.conf in
front of a plain node, with a throw-away certificate authority (trustme): REST, the session cookie,
HSTS, a WebSocket round trip, the SSE stream, the 80 -> 443 redirect, and no TLS below 1.2."""

from __future__ import annotations

import ssl
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme

from tests.support.client import Api, Socket
from tests.support.cluster import Nginx
from tests.support.server import FAST_LIMITS, ServerProcess
from tests.support.sse import SseStream


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def cert_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    chain, key = folder / "chain.pem", folder / "key.pem"
    cert.private_key_pem.write_to_path(key)
    with open(chain, "wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    return str(chain), str(key)


@pytest.fixture(scope="module")
def trusted(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def _server(workdir: Path, env: dict[str, str]) -> ServerProcess:
    return ServerProcess(f"sqlite:///{workdir / 'parley.db'}", workdir, env={**FAST_LIMITS, **env})


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, cert_files: tuple[str, str],
               trusted: ssl.SSLContext) -> Iterator[ServerProcess]:
    node = _server(tmp_path_factory.mktemp("tls-node"), {"PARLEY_TLS_CERT": cert_files[0],
                                                         "PARLEY_TLS_KEY": cert_files[1]})
    node.scheme, node.client_tls = "https", trusted
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, cert_files: tuple[str, str]) -> Iterator[Nginx]:
    workdir = tmp_path_factory.mktemp("tls-nginx")
    node = _server(workdir, {"PARLEY_TRUST_PROXY": "true"}).start()
    nginx = Nginx(workdir, [node.port], tls=cert_files)
    try:
        yield nginx.start()
    finally:
        nginx.stop()
        node.stop()


@pytest.fixture
async def https(trusted: ssl.SSLContext) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusted)) as session:
        yield session


async def _round_trip(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    """Register over HTTPS, then a message out and back over WSS and SSE. Returns the registration
    answer's headers."""
    name = f"t{uuid.uuid4().hex[:8]}"
    async with http.post(base + "/api/v1/auth/register", json={"username": name, "password": "a long enough secret"}) as resp:
        assert resp.status == 201
        headers = {"hsts": resp.headers.getall("Strict-Transport-Security", []),
                   "cookie": resp.headers.get("Set-Cookie", "")}
        token = (await resp.json())["token"]
    api = Api(http, base, token)
    room = await api.create_room(f"tls-{name}")
    sock = await Socket.open(http, base, token)  # https -> wss
    stream = await SseStream.open(http, base, token)
    await stream.wait_for(lambda f: f["type"] == "hello")
    ack = await sock.send_message(room["id"], "over tls")
    assert ack["type"] == "ack"
    echoed = await sock.wait_for(lambda f: f.get("type") == "message" and f.get("text") == "over tls")
    streamed = await stream.wait_for(lambda f: f.get("type") == "message" and f.get("text") == "over tls")
    assert echoed["seq"] == streamed["seq"]
    await sock.close()
    await stream.close()
    return headers


async def _status_with(url: str, version: ssl.TLSVersion, ca: trustme.CA) -> int:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: that is the point
        context.minimum_version = context.maximum_version = version
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # the client's own floor out of the way
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session, \
            session.get(url + "/readyz") as resp:
        return resp.status


async def test_serve_https_and_wss_directly(tls_server: ServerProcess, https: aiohttp.ClientSession,
                                            ca: trustme.CA) -> None:
    assert tls_server.url.startswith("https://")
    headers = await _round_trip(https, tls_server.url)
    assert headers["hsts"] == ["max-age=31536000"]
    assert "Secure" in headers["cookie"] and "HttpOnly" in headers["cookie"]
    # TLS 1.2 is served; 1.1 (which this client would speak) is refused at the handshake
    assert await _status_with(tls_server.url, ssl.TLSVersion.TLSv1_2, ca) == 200
    with pytest.raises((aiohttp.ClientError, ssl.SSLError)):
        await _status_with(tls_server.url, ssl.TLSVersion.TLSv1_1, ca)
    # plain HTTP on the TLS port gets no answer
    with pytest.raises(aiohttp.ClientError):
        async with aiohttp.ClientSession() as plain:
            await plain.get(tls_server.url.replace("https", "http") + "/readyz")


async def test_nginx_terminates_tls(proxied: Nginx, https: aiohttp.ClientSession) -> None:
    assert proxied.url.startswith("https://")
    headers = await _round_trip(https, proxied.url)
    assert headers["hsts"] == ["max-age=31536000"]  # exactly one, nginx's
    assert "Secure" in headers["cookie"]  # the node believed X-Forwarded-Proto from its trusted proxy
    redirect = f"http://127.0.0.1:{proxied.redirect_port}/api/v1/me?x=1"
    async with aiohttp.ClientSession() as plain, plain.get(redirect, allow_redirects=False) as resp:
        assert resp.status == 301
        assert resp.headers["Location"] == "https://127.0.0.1/api/v1/me?x=1"
