"""Chaos: 200 WebSocket clients through nginx chat in several rooms of a 3-node cluster while one
node is killed with SIGKILL. Clients reconnect through nginx, resume from their cursors and resend
what was not acknowledged. In the end every acknowledged message is stored exactly once and reached
every member of its room exactly once, in order."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from tests.cluster.chaos import ChaosClient
from tests.cluster.helpers import assert_log_intact, node_ids, register

USERS = 200
ROOMS = 8
SENDERS = 50
TRAFFIC_S = 20.0
KILL_AT_S = 7.0
SEND_INTERVAL_S = 1.0


@pytest.mark.timeout(300)
async def test_kill_one_node_under_load(cluster, session, db):
    edge = cluster.nginx.url
    limit = asyncio.Semaphore(8)
    phases: dict[str, float] = {}
    began = time.monotonic()

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - began, 1)

    async def limited(coro):
        async with limit:
            return await coro

    apis = await asyncio.gather(*(limited(register(session, edge, "chaos")) for _ in range(USERS)))
    owner = apis[0]
    rooms = [(await owner.create_room(f"chaos {r}"))["id"] for r in range(ROOMS)]
    membership = {0: rooms}
    for i in range(1, USERS):
        membership[i] = sorted({rooms[i % ROOMS], rooms[(i * 3 + 1) % ROOMS]})
    await asyncio.gather(*(limited(apis[i].join(room)) for i in range(1, USERS) for room in membership[i]))

    phase("users")
    node_of = await node_ids(session, cluster.nodes, owner.token)  # hello's node id -> process

    clients = [ChaosClient(i, session, edge, api.token, api.user["id"], membership[i]) for i, api in enumerate(apis)]
    for client in clients:
        client.run()
    try:
        await asyncio.wait_for(asyncio.gather(*(c.connected_once.wait() for c in clients)), 60)
        spread = Counter(c.nodes[0] for c in clients)
        assert len(spread) == 3 and min(spread.values()) > USERS // 6, f"nginx spread the clients badly: {spread}"

        phase("connected")
        senders = clients[:: USERS // SENDERS]
        until = time.monotonic() + TRAFFIC_S
        talking = asyncio.gather(*(s.talk(until, SEND_INTERVAL_S) for s in senders))
        await asyncio.sleep(KILL_AT_S)
        victim_id = spread.most_common(1)[0][0]
        victim = node_of[victim_id]
        await asyncio.to_thread(victim.kill)  # SIGKILL: no goodbye
        await talking
        phase("traffic")
        await asyncio.gather(*(s.settle(45) for s in senders))
        phase("settled")
        unacked = {s.index: list(s.unacked) for s in senders if s.unacked}
        assert not unacked, f"messages never acknowledged: {unacked}\n{cluster.logs()}"

        # The database: each room's log is whole, and every message is stored exactly once.
        last: dict[int, int] = {}
        stored: dict[str, tuple[int, int]] = {}
        stored_texts: Counter[str] = Counter()
        by_room: dict[int, list[tuple[int, str | None]]] = {}
        for room in rooms:
            rows = await assert_log_intact(db, room)
            last[room] = rows[-1]["seq"]
            by_room[room] = [(r["seq"], r["client_msg_id"]) for r in rows if r["type"] == "message"]
            for r in rows:
                if r["type"] == "message":
                    stored[r["client_msg_id"]] = (room, r["seq"])
                    stored_texts[r["text"]] += 1
        twice = [t for t, n in stored_texts.items() if n > 1]
        assert not twice, f"stored more than once: {twice[:10]}"
        acked = {cmid: where for s in senders for cmid, where in s.acked.items()}
        sent = sum(s.sent for s in senders)
        assert len(acked) == sent, f"{sent} messages sent, {len(acked)} acknowledged"
        missing = {c: w for c, w in acked.items() if stored.get(c) != w}
        assert not missing, f"acknowledged but not stored there: {list(missing.items())[:10]}"
        assert set(stored) == set(acked), f"stored but never acknowledged: {sorted(set(stored) - set(acked))[:10]}"

        # Every member got every event of its rooms once, in order (waiting for stragglers).
        def behind() -> list[tuple[int, int, int, int]]:
            return [(c.index, room, c.cursors.get(room, -1), last[room]) for c in clients for room in c.rooms
                    if c.cursors.get(room, -1) < last[room]]

        deadline = time.monotonic() + 30
        while behind() and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        assert not behind(), f"clients still behind (client, room, cursor, last): {behind()[:10]}"
        phase("caught up")
        violations = {c.index: c.violations[:5] for c in clients if c.violations}
        assert not violations, f"delivery violations: {violations}"
        for client in clients:
            for room in client.rooms:
                expected = list(range(client.start[room] + 1, last[room] + 1))
                assert client.accepted[room] == expected, f"client {client.index} room {room}"
                want = [cmid for seq, cmid in by_room[room] if seq > client.start[room]]
                assert client.messages[room] == want, f"client {client.index} room {room}: messages differ"

        # The victim's clients reconnected through nginx to the survivors.
        moved = [c for c in clients if c.nodes[0] == victim_id]
        assert moved and all(c.connects >= 2 and c.nodes[-1] != victim_id for c in moved)
        deliveries = sum(len(c.messages[r]) for c in clients for r in c.rooms)
        print(f"chaos: {sent} messages, {deliveries} deliveries, spread {dict(spread)}, "
              f"{len(moved)} clients moved off the killed node, "
              f"{sum(c.ahead_while_resuming for c in clients)} events ahead while resuming, "
              f"errors {sum((Counter(s.errors) for s in senders), Counter())}, phases {phases}")
    finally:
        await asyncio.gather(*(c.stop() for c in clients), return_exceptions=True)
