"""GET /metrics seen from outside: Prometheus' text format with the node's figures, only for the
allowed addresses, rate-limited; X-Request-Id in and out; PARLEY_LOG_FORMAT=json."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import new_user
from tests.support.client import Socket
from tests.support.server import FAST_LIMITS, ServerProcess


async def scrape(http: aiohttp.ClientSession, base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with http.get(base + "/metrics") as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = await resp.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on each database; logs in JSON at INFO, so that the log test reads its own lines."""
    from tests.conftest import create_pg_database, drop_pg_database

    workdir = tmp_path_factory.mktemp("metrics")
    pg = create_pg_database() if request.param == "postgresql" else None
    url = f"postgresql://postgres@127.0.0.1:5432/{pg}" if pg else f"sqlite:///{workdir / 'parley.db'}"
    env = {**FAST_LIMITS, "PARLEY_LOG_FORMAT": "json", "PARLEY_LOG_LEVEL": "INFO"}
    proc = ServerProcess(url, workdir, env=env).start()
    try:
        yield proc
    finally:
        proc.stop()
        if pg:
            drop_pg_database(pg)


async def test_metrics_count_sends_deliveries_batches_and_requests(node, http, names):
    ann, bob = await new_user(http, node.url, names()), await new_user(http, node.url, names())
    room = (await ann.create_room(names("m")))["id"]
    await bob.join(room)
    ann_sock = await Socket.open(http, node.url, ann.token)
    bob_sock = await Socket.open(http, node.url, bob.token)
    await ann_sock.barrier()
    await bob_sock.barrier()
    before = await scrape(http, node.url)
    assert value(before, "parley_connections", transport="ws") == 2
    for i in range(3):
        await ann_sock.send_message(room, f"counted {i}")
    await bob_sock.wait_count(lambda f: f["type"] == "message" and f["room"] == room, 3)
    await ann_sock.wait_count(lambda f: f["type"] == "message" and f["room"] == room, 3)
    after = await scrape(http, node.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("parley_sends_total") == 3
    assert delta("parley_deliveries_total") == 6  # three messages, two connections
    assert delta("parley_fanned_events_total") == 3
    assert delta("parley_send_batch_size_sum") == 3 and 1 <= delta("parley_send_batch_size_count") <= 3
    assert delta("parley_send_batch_commit_seconds_count") == delta("parley_send_batch_size_count")
    assert value(after, "parley_dropped_slow_readers_total") == 0
    route = "/api/v1/rooms/{room_id}/join"
    assert value(after, "parley_http_requests_total", method="POST", route=route, status="200") >= 1
    assert value(after, "parley_http_requests_total", method="GET", route="/metrics", status="200") >= 1
    assert value(after, "process_cpu_seconds_total") > 0
    await bob_sock.close()
    await ann_sock.close()


async def test_event_loop_lag_is_sampled(node, http):
    async def sampled() -> None:
        while value(await scrape(http, node.url), "parley_event_loop_lag_seconds_count") < 2:
            await asyncio.sleep(0.2)  # polling for a sampler that runs twice a second; not a proof of absence

    await asyncio.wait_for(sampled(), 10)


async def test_request_ids_are_answered_and_logged_in_json(node, http, names):
    async with http.get(node.url + "/healthz", headers={"X-Request-Id": "trace-42.a"}) as resp:
        assert resp.headers["X-Request-Id"] == "trace-42.a"
    async with http.get(node.url + "/api/v1/nope") as resp:
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-Id"])
    async with http.get(node.url + "/healthz", headers={"X-Request-Id": "no spaces <or> markup"}) as resp:
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-Id"])

    # Deleting an account logs a line at INFO while the request is handled: it carries the request id.
    rid = "delete-" + names()
    other = await new_user(http, node.url, names())
    async with http.delete(node.url + "/api/v1/me", json={"password": "a long enough secret"},
                           headers={"Authorization": f"Bearer {other.token}", "X-Request-Id": rid}) as resp:
        assert resp.status in (200, 204) and resp.headers["X-Request-Id"] == rid
    lines = [json.loads(line) for line in Path(node.log_path).read_text().splitlines() if line.startswith("{")]
    assert lines, "no JSON log line"
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
    mine = [line for line in lines if line.get("request_id") == rid]
    assert [line["message"] for line in mine] == [f"deleted account {other.user['id']} (messages keep)"]


async def test_scrapes_are_rate_limited(node, http):
    statuses = []
    for _ in range(40):
        async with http.get(node.url + "/metrics") as resp:
            statuses.append(resp.status)
            if resp.status == 429:
                body = await resp.json()
                assert body["error"]["code"] == "rate_limited" and int(resp.headers["Retry-After"]) >= 1
    assert statuses[0] == 200 and 429 in statuses


@pytest.fixture(scope="module")
def closed_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("metrics-closed")
    env = {**FAST_LIMITS, "PARLEY_METRICS_ALLOW": "10.11.12.0/24"}
    proc = ServerProcess(f"sqlite:///{workdir / 'parley.db'}", workdir, env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


async def test_addresses_outside_the_allowlist_get_the_404_of_a_missing_page(closed_node, http):
    async with http.get(closed_node.url + "/metrics") as resp:
        refused = (resp.status, await resp.read())
        assert "X-Content-Type-Options" in resp.headers
    async with http.get(closed_node.url + "/no-such-page") as resp:
        missing = (resp.status, await resp.read())
    assert refused == missing and refused[0] == 404


async def test_a_request_through_an_untrusted_proxy_is_refused(node, http):
    """nginx on loopback forwards everyone's requests: without PARLEY_TRUST_PROXY, a forwarded
    request is not taken for a local one."""
    async with http.get(node.url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"}) as resp:
        assert resp.status == 404


@pytest.fixture(scope="module")
def spam_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("metrics-spam")
    env = {**FAST_LIMITS, "PARLEY_SPAM": "on"}
    proc = ServerProcess(f"sqlite:///{workdir / 'parley.db'}", workdir, env=env).start(timeout=120)
    try:
        yield proc
    finally:
        proc.stop()


async def test_spam_decisions_are_counted(spam_node, http, names):
    ann = await new_user(http, spam_node.url, names())
    bob = await new_user(http, spam_node.url, names())
    room = (await ann.create_room(names("s")))["id"]
    await bob.join(room)  # a plain member: the room's owner (a moderator and up) is never scored

    def decided(samples: dict) -> float:
        return sum(value(samples, "parley_spam_decisions_total", decision=d) for d in ("deliver", "hold", "reject"))

    before = decided(await scrape(http, spam_node.url))
    for i in range(3):
        await bob.send(room, f"good morning, the meeting moved to room {i}")
    await ann.send(room, "the owner's message is not scored")
    assert decided(await scrape(http, spam_node.url)) - before == 3  # each member's message scored once
