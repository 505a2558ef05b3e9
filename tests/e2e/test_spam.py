"""The spam filter through a real server (spam on, default thresholds) and real clients: the held
ack, the moderators' live queue, approval delivered in order to everyone, rejection leaving nothing,
and a spam wave against a normal conversation (the figures of docs/performance.md)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest

from parley.core.spam import read_set
from tests.conftest import new_user
from tests.support.client import Api, Socket
from tests.support.server import FAST_LIMITS, ServerProcess

# Scored between the default thresholds (held, not refused), and in neither shipped set.
SPAM = "casino night bonus, 200 free spins for new players at www.spin-bonus.bet"
SPAM_2 = "兼职刷单，日结三百，有兴趣的加我微信 sd2024"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("spam")
    proc = ServerProcess(f"sqlite:///{workdir / 'parley.db'}", workdir, env={**FAST_LIMITS, "PARLEY_SPAM": "on"})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


async def test_held_ack_live_queue_approval_in_order_and_rejection(server, http, names):
    owner, eve, bob = [await new_user(http, server.url, names()) for _ in range(3)]
    room = (await owner.create_room(names("room")))["id"]
    for user in (eve, bob):
        await user.join(room)
    socks = [await Socket.open(http, server.url, u.token) for u in (owner, eve, bob)]
    owner_sock, eve_sock, bob_sock = socks
    before = await bob.send(room, "hi all")

    ack = await eve_sock.send_message(room, SPAM, "wave-1")
    assert ack["type"] == "ack" and ack["held"] is True and ack["seq"] == 0 and ack["client_msg_id"] == "wave-1"
    added = await owner_sock.wait_for(lambda f: f["type"] == "held_added")
    assert added["held"]["id"] == ack["held_id"] and added["held"]["text"] == SPAM
    assert added["held"]["sender"]["id"] == eve.user["id"] and added["held"]["room"] == room
    held_http = await eve.call("POST", f"/api/v1/rooms/{room}/messages", {"text": SPAM_2}, expect=202)
    assert held_http["held"]["text"] == SPAM_2

    # Nobody else sees them: a member can neither list nor approve.
    assert (await bob.call("GET", f"/api/v1/held?room={room}", expect=403))["error"]["code"] == "forbidden"
    await bob.call("POST", f"/api/v1/held/{ack['held_id']}/approve", expect=403)
    await bob.call("GET", "/api/v1/held?room=999999", expect=404)
    await bob.call("POST", "/api/v1/held/999999/reject", expect=404)
    queue = await owner.call("GET", f"/api/v1/held?room={room}")
    assert [h["id"] for h in queue["held"]] == [held_http["held"]["id"], ack["held_id"]]

    approved = await owner.call("POST", f"/api/v1/held/{ack['held_id']}/approve")
    seq = approved["message"]["seq"]
    assert seq == before["seq"] + 1 and approved["message"]["text"] == SPAM
    got = await bob_sock.wait_for(lambda f: f["type"] == "message" and f.get("client_msg_id") == "wave-1")
    assert got["seq"] == seq and got["sender"]["id"] == eve.user["id"]
    resolved = await eve_sock.wait_for(lambda f: f["type"] == "held_resolved")
    assert resolved == {"type": "held_resolved", "id": ack["held_id"], "room": room, "approved": True, "seq": seq}

    await owner.call("POST", f"/api/v1/held/{held_http['held']['id']}/reject")
    gone = await eve_sock.wait_for(lambda f: f["type"] == "held_resolved" and not f["approved"])
    assert gone["id"] == held_http["held"]["id"] and gone["seq"] is None
    # Eve's own list: nothing held any more; the rejection is told (the approval came as its event).
    assert await eve.call("GET", "/api/v1/me/held") == {"held": [], "rejected": [held_http["held"]["id"]]}
    assert (await bob.call("GET", "/api/v1/me/held"))["rejected"] == []
    await bob_sock.barrier()
    assert not [f for f in bob_sock.frames if f["type"].startswith("held") or f.get("text") == SPAM_2]
    assert [m["text"] for m in (await bob.history(room))["messages"] if m["type"] == "message"] == ["hi all", SPAM]
    for sock in socks:
        await sock.close()


async def test_a_spam_wave_is_held_and_a_normal_conversation_is_not(server, http, names):
    """200 spam messages (held-out texts) from 20 new accounts over 5 rooms, against the held-out
    normal conversation from 10 new accounts; every account is a minute old at most."""
    spam_texts = [t for t, is_spam in zip(*read_set("spam-heldout.tsv"), strict=True) if is_spam]
    ham_texts = [t for t, is_spam in zip(*read_set("spam-heldout.tsv"), strict=True) if not is_spam]
    owner = await new_user(http, server.url, names())
    rooms = [(await owner.create_room(names("wave")))["id"] for _ in range(5)]
    gate = asyncio.Semaphore(4)  # password hashes in flight per address are capped (8)

    async def register(prefix: str) -> Api:
        async with gate:
            return await new_user(http, server.url, names(prefix))

    spammers = await asyncio.gather(*(register("s") for _ in range(20)))
    people = await asyncio.gather(*(register("p") for _ in range(10)))
    await asyncio.gather(*(u.join(r) for u in [*spammers, *people] for r in rooms))

    texts = itertools.cycle(spam_texts)
    wave = [(s, rooms[k % 5], text) for s in spammers for text in (next(texts), next(texts)) for k in range(5)]
    chat = [(people[i % 10], rooms[i % 5], text) for i, text in enumerate(ham_texts)]
    assert len(wave) == 200 and len(chat) >= 100

    async def outcomes(sends: list[tuple[Api, int, str]]) -> list[str]:
        """Every account sends its messages in order, all accounts at once; the outcome of each."""
        users = {id(u): u for u, _, _ in sends}
        socks = dict(zip(users, await asyncio.gather(*(Socket.open(http, server.url, u.token)
                                                       for u in users.values())), strict=True))
        out: list[str] = [""] * len(sends)

        async def run(key: int) -> None:
            for i, (user, room, text) in enumerate(sends):
                if id(user) == key:
                    answer = await socks[key].send_message(room, text)
                    out[i] = "held" if answer.get("held") else answer.get("code", "delivered")

        await asyncio.gather(*(run(key) for key in socks))
        for sock in socks.values():
            await sock.close()
        return out

    caught = await outcomes(wave)
    normal = await outcomes(chat)
    stopped = sum(o in ("held", "spam") for o in caught) / len(caught)
    bothered = sum(o != "delivered" for o in normal) / len(normal)
    print(f"\nspam wave: {stopped:.1%} held or refused ({caught.count('spam')} refused); "
          f"normal conversation: {bothered:.1%} held or refused of {len(normal)}")
    assert stopped >= 0.95
    assert bothered <= 0.01
