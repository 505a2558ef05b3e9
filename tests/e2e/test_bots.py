"""Bots and webhooks against a real server (issue 12): a signed outgoing webhook to a local receiver
that fails once and is retried, its reply posted back; SSRF refusals after DNS resolution and of
redirects; incoming hooks (Parley's and Slack's payloads); bearer authentication on the socket; and
the two example bots, each run against the server."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from parley.bot import verify_signature
from tests.conftest import new_user
from tests.support.client import Api, Socket
from tests.support.server import FAST_LIMITS, ServerProcess, free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _start(tmp: Path, **env: str) -> ServerProcess:
    return ServerProcess(f"sqlite:///{tmp / 'parley.db'}", tmp, env={**FAST_LIMITS, **env}).start()


@pytest.fixture(scope="module")
def allowing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose webhooks may reach loopback (the tests' receivers), retrying after 0.2 s."""
    proc = _start(tmp_path_factory.mktemp("bots"), PARLEY_WEBHOOK_ALLOW_PRIVATE="127.0.0.0/8",
                  PARLEY_WEBHOOK_RETRY_BASE_S="0.2", PARLEY_WEBHOOK_TIMEOUT_S="5")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with the default: public addresses only."""
    proc = _start(tmp_path_factory.mktemp("strict"), PARLEY_WEBHOOK_RETRY_BASE_S="0.2")
    try:
        yield proc
    finally:
        proc.stop()


class Receiver:
    """A local aiohttp server standing for a bot's webhook endpoint. It checks every signature."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secret = ""
        self.requests: list[dict[str, Any]] = []
        self.fail_first = 0
        self.reply: dict[str, Any] | None = None
        self.got = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/hook", self._hook)
        self.app.router.add_post("/redirect", self._redirect)
        self.app.router.add_post("/target", self._hook)
        self.runner = web.AppRunner(self.app)

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        stamp, signature = request.headers.get("X-Parley-Timestamp", ""), request.headers.get("X-Parley-Signature", "")
        self.requests.append({"path": request.path, "body": body, "valid": verify_signature(
            self.secret, stamp, body, signature), "signature": signature})
        self.got.set()
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503, text="not yet")
        return web.json_response(self.reply) if self.reply is not None else web.Response(status=204)

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"path": request.path})
        raise web.HTTPTemporaryRedirect(f"http://127.0.0.1:{self.port}/target")

    async def __aenter__(self) -> Receiver:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as found:
        yield found


async def _bot(owner: Api, name: str, room: int | None = None) -> tuple[dict[str, Any], str]:
    answer = await owner.call("POST", "/api/v1/bots", {"username": name, "display_name": f"{name} bot"}, expect=201)
    if room is not None:
        await owner.call("POST", f"/api/v1/rooms/{room}/bots", {"bot_id": answer["bot"]["id"]}, expect=200)
    return answer["bot"], answer["token"]


async def _deliveries_until(owner: Api, bot_id: int, done: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The delivery log, read until `done(log)` holds: the server's own record of its attempts."""
    async def poll() -> list[dict[str, Any]]:
        while True:
            log = (await owner.call("GET", f"/api/v1/bots/{bot_id}/deliveries"))["deliveries"]
            if done(log):
                return log
            await asyncio.sleep(0.1)

    return await asyncio.wait_for(poll(), timeout)


async def test_webhook_is_signed_retried_and_its_reply_posted(allowing, http, names, receiver):
    owner = await new_user(http, allowing.url, names("own"))
    alice = await new_user(http, allowing.url, names("al"))
    room = (await owner.create_room(names("room")))["id"]
    await alice.join(room)
    bot, _token = await _bot(owner, names("hk"), room)
    hook = (await owner.call("POST", f"/api/v1/bots/{bot['id']}/webhooks", {
        "url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["message"]}, expect=201))["webhook"]
    receiver.secret, receiver.fail_first, receiver.reply = hook["secret"], 1, {"text": "pong"}
    assert "secret" not in (await owner.call("GET", f"/api/v1/bots/{bot['id']}/webhooks"))["webhooks"][0]
    sock = await Socket.open(http, allowing.url, alice.token)
    sent = await sock.send_message(room, "ping")
    reply = await sock.wait_for(lambda f: f["type"] == "message" and f.get("text") == "pong", timeout=20)
    assert reply["sender"]["id"] == bot["id"] and reply["sender"]["bot"] is True
    assert len(receiver.requests) == 2 and all(r["valid"] for r in receiver.requests)
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]  # the same delivery, retried
    payload = orjson.loads(receiver.requests[0]["body"])
    assert (payload["type"], payload["room"], payload["event"]["seq"], payload["event"]["text"]) == (
        "message", room, sent["seq"], "ping")
    log = await _deliveries_until(owner, bot["id"], lambda log: log and log[0]["state"] == "done")
    assert (log[0]["attempts"], log[0]["last_status"], log[0]["seq"]) == (2, 200, sent["seq"])
    # the bot's own reply made no delivery; a forged signature does not verify
    await sock.send_message(room, "barrier")
    await _deliveries_until(owner, bot["id"], lambda log: len(log) == 2 and log[0]["state"] == "done")
    assert not verify_signature(hook["secret"], "1", receiver.requests[0]["body"], receiver.requests[0]["signature"])
    assert (await alice.call("GET", f"/api/v1/bots/{bot['id']}/deliveries", expect=404))["error"]["code"] == "not_found"
    await sock.close()


async def test_redirects_are_not_followed(allowing, http, names, receiver):
    owner = await new_user(http, allowing.url, names("own"))
    room = (await owner.create_room(names("room")))["id"]
    bot, _ = await _bot(owner, names("rd"), room)
    await owner.call("POST", f"/api/v1/bots/{bot['id']}/webhooks", {
        "url": f"http://127.0.0.1:{receiver.port}/redirect", "events": ["message"]}, expect=201)
    await owner.send(room, "go")
    log = await _deliveries_until(owner, bot["id"], lambda log: log and log[0]["attempts"] >= 1
                                  and log[0]["last_status"] is not None)
    assert log[0]["last_status"] == 307 and log[0]["state"] == "pending"  # a failure, retried later
    assert [r["path"] for r in receiver.requests if r["path"] == "/target"] == []


async def test_ssrf_refused_before_and_after_resolution(strict, http, names, receiver):
    owner = await new_user(http, strict.url, names("own"))
    room = (await owner.create_room(names("room")))["id"]
    bot, _ = await _bot(owner, names("sf"), room)
    path = f"/api/v1/bots/{bot['id']}/webhooks"
    for url in (f"http://127.0.0.1:{receiver.port}/hook", "http://[::1]/x", "http://169.254.169.254/latest/meta-data",
                "http://10.0.0.1/x", "http://[::ffff:127.0.0.1]/x", "http://[fe80::1]/x"):
        answer = await owner.call("POST", path, {"url": url, "events": ["message"]}, expect=422)
        assert answer["error"]["code"] == "forbidden_address", url
    # a name is checked where it resolves, and the connection goes to the address checked
    await owner.call("POST", path, {"url": f"http://localhost:{receiver.port}/hook", "events": ["message"]}, expect=201)
    await owner.send(room, "try me")
    log = await _deliveries_until(owner, bot["id"], lambda log: log and log[0]["last_error"])
    assert log[0]["last_error"].startswith("refused") and log[0]["last_status"] is None
    assert receiver.requests == []  # the receiver listens on loopback and heard nothing


async def test_incoming_hooks_and_bearer_socket(allowing, http, names):
    owner = await new_user(http, allowing.url, names("own"))
    room = (await owner.create_room(names("room")))["id"]
    bot, token = await _bot(owner, names("in"))
    path = f"/api/v1/bots/{bot['id']}/hooks"
    assert (await owner.call("POST", path, {"room": room}, expect=422))["error"]["code"] == "invalid"
    await owner.call("POST", f"/api/v1/rooms/{room}/bots", {"bot_id": bot["id"]})
    hook = (await owner.call("POST", path, {"room": room}, expect=201))["hook"]
    anon = Api(http, allowing.url)
    event = await anon.call("POST", hook["url"], {"text": "deployed v1.2"}, expect=201)
    assert event["sender"]["bot"] is True and event["text"] == "deployed v1.2"
    slack = {"text": "from slack", "username": "ignored", "icon_emoji": ":ghost:"}
    assert (await anon.call("POST", hook["url"], slack, expect=201))["text"] == "from slack"
    wrong = hook["url"][:-1] + ("A" if hook["url"][-1] != "A" else "B")
    assert (await anon.call("POST", wrong, {"text": "x"}, expect=404))["error"]["code"] == "not_found"
    assert (await anon.call("POST", hook["url"], {"nope": 1}, expect=422))["error"]["code"] == "invalid"
    assert (await anon.call("POST", hook["url"], raw=b"[1]", expect=400))["error"]["code"] == "bad_request"
    # the bot's token: bearer on REST and on the socket's handshake
    bot_api = Api(http, allowing.url, token)
    me = await bot_api.call("GET", "/api/v1/me")
    assert me["id"] == bot["id"] and me["bot"] is True
    assert (await bot_api.call("POST", f"/api/v1/rooms/{room}/join", expect=403))["error"]["code"] == "forbidden"
    async with http.ws_connect(allowing.url.replace("http", "ws") + "/ws",
                               headers={"Authorization": f"Bearer {token}"}) as ws:
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "hello" and hello["user"]["id"] == bot["id"] and str(room) in hello["rooms"]
    # rotating revokes the old token
    fresh = (await owner.call("POST", f"/api/v1/bots/{bot['id']}/token"))["token"]
    assert (await bot_api.call("GET", "/api/v1/me", expect=401))["error"]["code"] == "unauthorized"
    assert (await Api(http, allowing.url, fresh).call("GET", "/api/v1/me"))["id"] == bot["id"]
    members = (await owner.call("GET", f"/api/v1/rooms/{room}/members"))["members"]
    assert [m["user"].get("bot") for m in members if m["user"]["id"] == bot["id"]] == [True]


async def test_ping_bot_example_answers_and_resumes(allowing, http, names):
    owner = await new_user(http, allowing.url, names("own"))
    room = (await owner.create_room(names("room")))["id"]
    bot_view, token = await _bot(owner, names("ping"), room)
    bot = _example("ping_bot").make_bot(allowing.url, token)
    runner = asyncio.create_task(bot.run())
    sock = await Socket.open(http, allowing.url, owner.token)
    try:
        await bot.wait_connected()
        await bot.register_commands({"echo": "say it back"})
        commands = (await owner.call("GET", f"/api/v1/rooms/{room}/commands"))["commands"]
        assert [(c["name"], c["bot"]["id"]) for c in commands] == [("echo", bot_view["id"])]
        ping = await sock.send_message(room, "ping")
        pong = await sock.wait_for(lambda f: f["type"] == "message" and f.get("text") == "pong")
        assert pong["reply_to"] == ping["seq"] and pong["sender"]["bot"] is True
        await sock.send_message(room, "/echo hello there")
        await sock.wait_for(lambda f: f["type"] == "message" and f.get("text") == "hello there")
        mention = await sock.send_message(room, f"hi @{bot_view['username']}")
        wave = await sock.wait_for(lambda f: f["type"] == "reaction_added")
        assert (wave["target"], wave["emoji"], wave["user"]) == (mention["seq"], "👋", bot_view["id"])
        # away: what is said meanwhile is answered after the reconnect, once
        await bot.stop()
        await runner
        missed = await sock.send_message(room, "ping")
        bot._stopping = False
        runner = asyncio.create_task(bot.run())
        late = await sock.wait_for(lambda f: f["type"] == "message" and f.get("reply_to") == missed["seq"])
        assert late["text"] == "pong" and bot.connections == 2
        await sock.send_message(room, "/echo after")
        await sock.wait_for(lambda f: f["type"] == "message" and f.get("text") == "after")
        assert len([f for f in sock.events(room, "message") if f.get("reply_to") == missed["seq"]]) == 1
    finally:
        await bot.stop()
        await runner
        await sock.close()


async def test_poll_bot_example_counts_votes(allowing, http, names):
    owner = await new_user(http, allowing.url, names("own"))
    alice = await new_user(http, allowing.url, names("al"))
    room = (await owner.create_room(names("room")))["id"]
    await alice.join(room)
    _view, token = await _bot(owner, names("poll"), room)
    bot = _example("poll_bot").make_bot(allowing.url, token)
    runner = asyncio.create_task(bot.run())
    sock = await Socket.open(http, allowing.url, alice.token)
    try:
        await bot.wait_connected()
        await sock.send_message(room, "/poll Lunch? | pizza | sushi")
        poll = await sock.wait_for(lambda f: f["type"] == "message" and f.get("text", "").startswith("📊"))
        await sock.wait_count(lambda f: f["type"] == "reaction_added" and f["target"] == poll["seq"], 2)
        await alice.call("PUT", f"/api/v1/rooms/{room}/messages/{poll['seq']}/reactions/2%EF%B8%8F%E2%83%A3",
                         expect=204)
        await sock.send_message(room, "/results")
        tally = await sock.wait_for(lambda f: f["type"] == "message" and f.get("text", "").startswith("Results"))
        assert "pizza: 0" in tally["text"] and "sushi: 1" in tally["text"]
    finally:
        await bot.stop()
        await runner
        await sock.close()


async def test_pending_deliveries_survive_a_restart(tmp_path, http, names):
    """The queue is in the database: a delivery that could not be made before the server stopped is
    made by the next process on the same database, once."""
    env = {"PARLEY_WEBHOOK_ALLOW_PRIVATE": "127.0.0.0/8", "PARLEY_WEBHOOK_RETRY_BASE_S": "0.2"}
    first = _start(tmp_path, **env)
    receiver = Receiver()  # not listening yet: every attempt fails to connect
    try:
        owner = await new_user(http, first.url, names("own"))
        room = (await owner.create_room(names("room")))["id"]
        bot, _ = await _bot(owner, names("dur"), room)
        hook = (await owner.call("POST", f"/api/v1/bots/{bot['id']}/webhooks", {
            "url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["message"]}, expect=201))["webhook"]
        sent = await owner.send(room, "while the receiver is down")
        await _deliveries_until(owner, bot["id"], lambda log: log and (log[0]["last_error"] or "").startswith(
            "could not connect"))
    finally:
        first.stop()
    receiver.secret, receiver.reply = hook["secret"], {"text": "back"}
    async with receiver:
        second = ServerProcess(first.database_url, tmp_path, env={**FAST_LIMITS, **env}).start()
        try:
            owner.base = second.url
            log = await _deliveries_until(owner, bot["id"], lambda log: log and log[0]["state"] == "done", timeout=30)
            assert log[0]["seq"] == sent["seq"] and log[0]["attempts"] >= 2
            assert [orjson.loads(r["body"])["event"]["seq"] for r in receiver.requests] == [sent["seq"]]
            assert receiver.requests[0]["valid"]
            page = await owner.history(room)
            assert [m["text"] for m in page["messages"] if m["type"] == "message"][-1] == "back"
        finally:
            second.stop()
