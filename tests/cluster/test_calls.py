"""Calls (issue 13) across nodes: signalling between users on different nodes goes through the bus
to the one participant connection; call state is in PostgreSQL, so a node that dies takes its
participants out of the call (the other nodes' sweep) and the call ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from tests.cluster.conftest import _require_tools
from tests.cluster.helpers import register
from tests.support.client import Socket
from tests.support.cluster import Cluster, running_cluster

TIMEOUT_S = 3


@pytest.fixture(scope="module")
def cluster_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two nodes, whose call participants time out after TIMEOUT_S seconds unseen."""
    _require_tools()
    try:
        with running_cluster(tmp_path_factory.mktemp("calls"), nodes=2,
                             env={"PARLEY_CALL_TIMEOUT_S": str(TIMEOUT_S)}) as cluster:
            yield cluster
    except RuntimeError as exc:
        pytest.fail(f"could not start the PostgreSQL + Redis + nginx cluster: {exc}", pytrace=False)


def _is(kind: str, ref: object = None):
    return lambda f: f["type"] == kind and (ref is None or f.get("ref") == ref)


async def test_two_users_on_two_nodes_call_each_other(cluster, session):
    one, two = cluster.nodes[:2]
    ann, bob = await register(session, one.url), await register(session, two.url)
    room = await ann.call("POST", "/api/v1/direct", {"usernames": [bob.user["username"]]})
    a, b = await Socket.open(session, one.url, ann.token), await Socket.open(session, two.url, bob.token)
    assert a.frames[0]["node"] != b.frames[0]["node"]

    await a.send({"type": "call_start", "room": room["id"], "ref": "start"})
    joined = await a.wait_for(_is("call_joined", "start"))
    call, peer_a = joined["call"]["id"], joined["peer"]
    assert (await b.wait_for(_is("call_started")))["call"] == call  # bob's client rings
    await b.send({"type": "call_join", "call": call, "ref": "join"})
    peer_b = (await b.wait_for(_is("call_joined", "join")))["peer"]

    # Offer, answer and candidates cross the nodes to the named participant.
    await b.send({"type": "call_signal", "call": call, "to": peer_a, "kind": "offer", "sdp": "v=0 from bob"})
    offer = await a.wait_for(_is("call_signal"))
    assert (offer["from"], offer["user"], offer["sdp"]) == (peer_b, bob.user["id"], "v=0 from bob")
    await a.send({"type": "call_signal", "call": call, "to": peer_b, "kind": "answer", "sdp": "v=0 from ann"})
    await a.send({"type": "call_signal", "call": call, "to": peer_b, "kind": "ice",
                  "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}})
    got = await b.wait_count(_is("call_signal"), 2)
    assert [(g["from"], g["kind"]) for g in got] == [(peer_a, "answer"), (peer_a, "ice")]

    # Both see who is in it, whichever node they ask.
    for api, node in ((ann, two), (bob, one)):
        answer = await api.call("GET", f"/api/v1/rooms/{room['id']}/call")
        assert {p["peer"] for p in answer["call"]["participants"]} == {peer_a, peer_b}, node.url

    await b.send({"type": "call_leave", "call": call})
    await a.send({"type": "call_leave", "call": call})
    for s in (a, b):
        ended = await s.wait_for(_is("call_ended"))
        assert ended["call"] == call and ended["missed"] is False
        assert {p["id"] for p in ended["participants"]} == {ann.user["id"], bob.user["id"]}


async def test_a_dead_node_s_participants_leave_and_the_call_ends(cluster, session):
    one, two = cluster.nodes[:2]
    ann, bob = await register(session, one.url), await register(session, two.url)
    room = (await ann.create_room("doomed"))["id"]
    await bob.join(room)
    a, b = await Socket.open(session, one.url, ann.token), await Socket.open(session, two.url, bob.token)
    await a.send({"type": "call_start", "room": room, "ref": "s"})
    call = (await a.wait_for(_is("call_joined", "s")))["call"]["id"]
    await b.send({"type": "call_join", "call": call, "ref": "j"})
    await b.wait_for(_is("call_joined", "j"))
    await a.wait_for(lambda f: f["type"] == "call_state" and f["call"] is not None
                     and len(f["call"]["participants"]) == 2)
    seen = len(a.frames)

    killed = time.monotonic()
    await asyncio.to_thread(two.kill)  # bob's node dies without a word
    # Node one's sweep takes bob out once he has not been seen for TIMEOUT_S; ann is alone then.
    alone = await a.wait_for(lambda f: f["type"] == "call_state" and f["call"] is not None
                             and len(f["call"]["participants"]) == 1, timeout=TIMEOUT_S * 8, start=seen)
    assert alone["call"]["participants"][0]["user"]["id"] == ann.user["id"]
    assert time.monotonic() - killed >= TIMEOUT_S - 1
    await a.send({"type": "call_leave", "call": call})
    ended = await a.wait_for(_is("call_ended"))
    assert {p["id"] for p in ended["participants"]} == {ann.user["id"], bob.user["id"]}
