"""The SSE fallback: the same events as /ws, with ids that resume exactly where a stream ended."""

from __future__ import annotations

import aiohttp
import pytest

from parley.core.cursors import decode_cursors
from tests.conftest import new_user
from tests.support.sse import SseStream


async def test_sse_streams_events_and_resumes_from_last_event_id(server, http, names):
    ann, bob = await new_user(http, server.url, names()), await new_user(http, server.url, names())
    room = await ann.create_room("sse")
    await bob.join(room["id"])
    stream = await SseStream.open(http, server.url, bob.token)
    hello = await stream.wait_for(lambda f: f["type"] == "hello")
    assert hello["user"]["id"] == bob.user["id"]
    for n in range(3):
        await ann.send(room["id"], f"live {n}")
    await stream.wait_for(lambda f: f.get("text") == "live 2")
    assert all(e["id"] for e in stream.events)  # every event carries an id
    await bob.call("POST", f"/api/v1/rooms/{room['id']}/typing")
    await stream.close()
    last_id = stream.last_id
    assert decode_cursors(last_id) == {room["id"]: room["last_seq"] + 4}

    for n in range(5):
        await ann.send(room["id"], f"missed {n}", client_msg_id=f"m{n}")
    again = await SseStream.open(http, server.url, bob.token, last_event_id=last_id)
    resumed = await again.wait_for(lambda f: f["type"] == "resumed")
    texts = [f["text"] for f in again.frames if f["type"] == "message"]
    assert texts == [f"missed {n}" for n in range(5)]
    seqs = [f["seq"] for f in again.frames if "seq" in f]
    assert seqs == list(range(room["last_seq"] + 5, resumed["cursors"][str(room["id"])] + 1))
    # The hello of a resumed stream announces the resume point, so an early drop loses nothing.
    assert again.events[0]["id"] == last_id
    await again.close()


async def test_sse_refuses_bad_ids_and_strangers(server, http, names):
    bob = await new_user(http, server.url, names())
    with pytest.raises(aiohttp.ClientResponseError) as err:
        await SseStream.open(http, server.url, bob.token, last_event_id="not-an-id")
    assert err.value.status == 400
    with pytest.raises(aiohttp.ClientResponseError) as err:
        await SseStream.open(http, server.url, None)
    assert err.value.status == 401
