"""Nothing is lost across disconnects and server crashes: resume replays from the database."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.conftest import new_user
from tests.support.client import ApiError, Socket
from tests.support.server import FAST_LIMITS, ServerProcess


def _room_seqs(sock: Socket, room: int, start: int = 0) -> list[int]:
    return [f["seq"] for f in sock.frames[start:] if f.get("room") == room and "seq" in f
            and f["type"] not in ("ack", "read")]


async def test_resume_after_disconnect_replays_missed_events_in_order(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    rooms = [await ann.create_room(f"r{i}") for i in range(2)]
    for room in rooms:
        await bob.join(room["id"])
    bob_sock = await Socket.open(http, server.url, bob.token)
    cursors = dict(bob_sock.frames[0]["rooms"])
    await bob_sock.close()

    for n in range(30):
        await ann.send(rooms[n % 2]["id"], f"missed {n}")
    third = await ann.create_room("joined while away")
    await bob.join(third["id"])
    await ann.send(third["id"], "in the new room")

    again = await Socket.open(http, server.url, bob.token)
    mark = len(again.frames)
    await again.send({"type": "resume", "cursors": cursors})
    resumed = await again.wait_for(lambda f: f["type"] == "resumed")
    for room in rooms:
        seqs = _room_seqs(again, room["id"], mark)
        assert seqs == list(range(cursors[str(room["id"])] + 1, resumed["cursors"][str(room["id"])] + 1))
        assert len([f for f in again.events(room["id"], "message")]) == 15
    # A room joined while away and left out of the cursors is replayed from the join.
    texts = [f.get("text") for f in again.events(third["id"])]
    assert texts[-1] == "in the new room"
    assert again.events(third["id"])[0]["type"] == "member_joined"


async def test_resume_of_any_age_and_cursor_beyond_the_end(server, http, names):
    ann = await new_user(http, server.url, names())
    room = await ann.create_room("old")
    for n in range(120):  # more than one replay page of the REST API, fewer than the WS page
        await ann.send(room["id"], f"m{n}")
    sock = await Socket.open(http, server.url, ann.token)
    await sock.send({"type": "resume", "cursors": {str(room["id"]): 0}})
    resumed = await sock.wait_for(lambda f: f["type"] == "resumed")
    assert _room_seqs(sock, room["id"]) == list(range(1, 123))
    assert resumed["cursors"][str(room["id"])] == 122
    # A cursor from the future is pulled back to the room's end, never silently trusted.
    await sock.send({"type": "resume", "cursors": {str(room["id"]): 10_000}, "ref": 2})
    again = await sock.wait_for(lambda f: f["type"] == "resumed" and f["ref"] == 2)
    assert again["cursors"][str(room["id"])] == 122


async def test_live_events_during_resume_are_merged_without_gap_or_duplicate(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await ann.create_room("busy")
    await bob.join(room["id"])
    for n in range(300):
        await ann.send(room["id"], f"backlog {n}")
    sock = await Socket.open(http, server.url, bob.token)
    ann_sock = await Socket.open(http, server.url, ann.token)
    sender = asyncio.gather(*(ann_sock.send_message(room["id"], f"live {n}") for n in range(100)))
    await sock.send({"type": "resume", "cursors": {str(room["id"]): 0}})
    await sock.wait_for(lambda f: f["type"] == "resumed")
    acks = await sender
    last = max(a["seq"] for a in acks)
    await sock.wait_for(lambda f: f.get("room") == room["id"] and f.get("seq") == last and f["type"] == "message")
    hello_at = sock.frames[0]["rooms"][str(room["id"])]
    seqs = _room_seqs(sock, room["id"], 1)
    # Events sent live before the server read `resume` come first; the replay then sends only what
    # the client lacks below them, and the stream goes on after them: every event once, no gap.
    early = seqs[:seqs.index(1)]
    assert early == list(range(hello_at + 1, hello_at + 1 + len(early)))
    assert seqs[len(early):] == list(range(1, hello_at + 1)) + list(range(hello_at + 1 + len(early), last + 1))


@pytest.fixture
def lone_server(tmp_path):
    proc = ServerProcess(f"sqlite:///{tmp_path / 'crash.db'}", tmp_path, env=FAST_LIMITS).start()
    yield proc
    proc.stop()


async def _send_until_dead(sock: Socket, room: int, prefix: str, acked: dict[str, int], count: int) -> None:
    for n in range(count):
        try:
            ack = await sock.send_message(room, f"{prefix} {n}", f"{prefix}-{n}")
        except (TimeoutError, ConnectionError):
            return
        if ack["type"] == "ack":
            acked[f"{prefix}-{n}"] = ack["seq"]


async def test_kill_9_loses_no_acknowledged_message(lone_server, http, names):
    url = lone_server.url
    ann, bob, cid = (await new_user(http, url, names()), await new_user(http, url, names()),
                     await new_user(http, url, names()))
    room = await ann.create_room("crash")
    for member in (bob, cid):
        await member.join(room["id"])
    reader = await Socket.open(http, url, cid.token)
    socks = [await Socket.open(http, url, u.token) for u in (ann, bob)]
    acked: dict[str, int] = {}
    senders = [asyncio.create_task(_send_until_dead(s, room["id"], p, acked, 400))
               for s, p in zip(socks, ("ann", "bob"), strict=True)]
    while len(acked) < 150:
        await asyncio.sleep(0.01)
    lone_server.kill()
    await asyncio.gather(*senders)
    cursor = max([f["seq"] for f in reader.events(room["id"])], default=0)

    lone_server.start()
    retry = [await Socket.open(http, url, u.token) for u in (ann, bob)]
    # Senders retry everything not acknowledged, with the same client message ids.
    for sock, prefix in zip(retry, ("ann", "bob"), strict=True):
        for n in range(400):
            cmid = f"{prefix}-{n}"
            if cmid not in acked:
                ack = await sock.send_message(room["id"], f"{prefix} {n}", cmid)
                assert ack["type"] == "ack"
                acked[cmid] = ack["seq"]
            elif n % 50 == 0:  # a retry of an acknowledged one returns the original
                ack = await sock.send_message(room["id"], f"{prefix} {n}", cmid)
                assert ack["seq"] == acked[cmid]
    again = await Socket.open(http, url, cid.token)
    await again.send({"type": "resume", "cursors": {str(room["id"]): cursor}})
    await again.wait_for(lambda f: f["type"] == "resumed")
    seen = [f for f in reader.events(room["id"], "message")] + again.events(room["id"], "message")
    counts = Counter(f["client_msg_id"] for f in seen)
    assert set(counts) == set(acked) and len(acked) == 800
    assert max(counts.values()) == 1
    assert [f["seq"] for f in seen] == sorted(f["seq"] for f in seen)
    # The stored log holds each message exactly once, gap-free.
    stored, before = [], None
    while True:
        page = await ann.history(room["id"], **({"before": before} if before else {}), limit=100)
        stored = page["messages"] + stored
        if not page["has_more"]:
            break
        before = page["messages"][0]["seq"]
    assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
    assert Counter(e["client_msg_id"] for e in stored if e["type"] == "message") == Counter(acked.keys())


async def test_rest_send_is_idempotent(server, http, names):
    ann = await new_user(http, server.url, names())
    room = await ann.create_room("retry")
    first = await ann.call("POST", f"/api/v1/rooms/{room['id']}/messages", {"text": "once", "client_msg_id": "k1"},
                           expect=201)
    second = await ann.call("POST", f"/api/v1/rooms/{room['id']}/messages", {"text": "once", "client_msg_id": "k1"},
                            expect=200)
    assert second == first
    sock = await Socket.open(http, server.url, ann.token)
    ack = await sock.send_message(room["id"], "once", "k1")
    assert (ack["id"], ack["seq"]) == (first["id"], first["seq"])
    burst = await asyncio.gather(*(sock.send_message(room["id"], "twice", "k2") for _ in range(5)))
    assert len({(a["id"], a["seq"]) for a in burst}) == 1
    page = await ann.history(room["id"])
    assert [m["client_msg_id"] for m in page["messages"] if m["type"] == "message"] == ["k1", "k2"]
    with pytest.raises(ApiError):
        await ann.call("POST", f"/api/v1/rooms/{room['id']}/messages", {"text": "x", "client_msg_id": "y" * 65})


async def test_resume_in_the_url_replays_exactly_once(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await ann.create_room("url resume")
    await bob.join(room["id"])
    first = await Socket.open(http, server.url, bob.token)
    cursor = first.frames[0]["rooms"][str(room["id"])]
    await first.close()
    for n in range(20):
        await ann.send(room["id"], f"away {n}")
    ann_sock = await Socket.open(http, server.url, ann.token)
    live = asyncio.gather(*(ann_sock.send_message(room["id"], f"during {n}") for n in range(20)))
    url = server.url.replace("http", "ws") + f"/ws?token={bob.token}&resume={room['id']}.{cursor}"
    again = Socket(await http.ws_connect(url))
    hello = await again.wait_for(lambda f: f["type"] == "hello")
    assert hello["rooms"][str(room["id"])] == cursor  # hello announces the resume point
    await again.wait_for(lambda f: f["type"] == "resumed")
    acks = await live
    last = max(a["seq"] for a in acks)
    await again.wait_for(lambda f: f.get("seq") == last and f["type"] == "message")
    assert _room_seqs(again, room["id"]) == list(range(cursor + 1, last + 1))


async def test_resume_at_the_hello_position_sends_nothing_twice(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await ann.create_room("no rewind")
    await bob.join(room["id"])
    sock = await Socket.open(http, server.url, bob.token)
    cursor = sock.frames[0]["rooms"][str(room["id"])]
    for n in range(5):
        await ann.send(room["id"], f"live {n}")
    await sock.wait_count(lambda f: f["type"] == "message", 5)
    # The client resumes from where hello put it, before it has read the live events.
    await sock.send({"type": "resume", "cursors": {str(room["id"]): cursor}})
    resumed = await sock.wait_for(lambda f: f["type"] == "resumed")
    assert resumed["cursors"][str(room["id"])] == cursor + 5
    assert _room_seqs(sock, room["id"]) == list(range(cursor + 1, cursor + 6))


async def test_resume_frame_with_an_older_cursor_sends_no_event_twice(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await ann.create_room("resume by frame")
    await bob.join(room["id"])
    first = await Socket.open(http, server.url, bob.token)
    cursor = first.frames[0]["rooms"][str(room["id"])]
    await first.close()
    for n in range(5):
        await ann.send(room["id"], f"missed {n}")
    # A reconnect that resumes by frame: events sent live between `hello` and `resume` reach it first.
    sock = await Socket.open(http, server.url, bob.token)
    for n in range(12):
        await ann.send(room["id"], f"live {n}")
    await sock.wait_count(lambda f: f["type"] == "message" and f.get("room") == room["id"], 12)
    await sock.send({"type": "resume", "cursors": {str(room["id"]): cursor}})
    resumed = await sock.wait_for(lambda f: f["type"] == "resumed")
    last = resumed["cursors"][str(room["id"])]
    assert last == cursor + 17
    seqs = _room_seqs(sock, room["id"])
    assert sorted(seqs) == list(range(cursor + 1, last + 1))  # none twice, none missing
    assert seqs == list(range(cursor + 6, last + 1)) + list(range(cursor + 1, cursor + 6))
    # A second, even older resume sends only what is still missing, and later events follow in order.
    await sock.send({"type": "resume", "cursors": {str(room["id"]): cursor - 1}, "ref": 2})
    await sock.wait_for(lambda f: f["type"] == "resumed" and f["ref"] == 2)
    await ann.send(room["id"], "after")
    await sock.wait_for(lambda f: f.get("seq") == last + 1 and f["type"] == "message")
    assert _room_seqs(sock, room["id"]) == seqs + [cursor, last + 1]
