"""GET /api/v1/search and ?around= through a real server: answers, and refusals as 4xx JSON."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import new_user
from tests.support.client import Api, ApiError


async def test_search_answers_with_structured_snippets_and_pages(server, http, names):
    ann = await new_user(http, server.url, names())
    room = await ann.create_room("searchable")
    hostile = "<img src=x onerror=alert(1)> Ünïcode résumé"
    for text in ("first résumé", hostile, "third resume"):
        await ann.send(room["id"], text)
    page = await ann.call("GET", "/api/v1/search?q=RESUME&limit=2")
    assert [h["message"]["text"] for h in page["hits"]] == ["third resume", hostile]
    assert page["has_more"] and page["next_before"].startswith("c")
    assert page["hits"][1]["snippet"] == [["<img src=x onerror=alert(1)> Ünïcode ", False], ["résumé", True]]
    rest = await ann.call("GET", f"/api/v1/search?q=resume&limit=2&before={page['next_before']}")
    assert [h["message"]["text"] for h in rest["hits"]] == ["first résumé"] and not rest["has_more"]
    seq = page["hits"][1]["seq"]
    around = await ann.call("GET", f"/api/v1/rooms/{room['id']}/messages?around={seq}&limit=3")
    assert [m["seq"] for m in around["messages"]] == [seq - 1, seq, seq + 1]


@pytest.mark.parametrize(("query", "status", "code"), [
    ("q=", 422, "invalid"),
    ("q=%20%20", 422, "invalid"),
    ("q=" + "x" * 201, 422, "invalid"),
    ("q=%21%3F", 422, "invalid"),
    ("q=a&limit=0", 422, "invalid"),
    ("q=a&limit=51", 422, "invalid"),
    ("q=a&has=image", 422, "invalid"),
    ("q=a&before=tomorrow", 422, "invalid"),
    ("q=a&before=5", 422, "invalid"),  # a seq needs a room
    ("q=a&after=c5", 422, "invalid"),
    ("q=a&from=%00", 422, "invalid"),
    ("q=a&room=abc", 422, "invalid"),
    ("q=a&room=987654321", 404, "not_found"),
    ("q=" + quote("咖啡") + "&before=" + "9" * 30, 422, "invalid"),
])
async def test_bad_searches_are_refused_as_json(server, http, names, query, status, code):
    ann = await new_user(http, server.url, names())
    with pytest.raises(ApiError) as err:
        await ann.call("GET", f"/api/v1/search?{query}")
    assert (err.value.status, err.value.code) == (status, code)


async def test_search_needs_a_session(server, http):
    with pytest.raises(ApiError) as err:
        await Api(http, server.url).call("GET", "/api/v1/search?q=hello")
    assert err.value.status == 401


async def test_an_id_beyond_64_bits_finds_nobody(server, http, names):
    ann = await new_user(http, server.url, names())
    found = await ann.call("GET", "/api/v1/search?q=a&from=" + "9" * 30)
    assert found == {"hits": [], "has_more": False, "next_before": None}


async def test_a_room_left_reads_up_to_the_leave_over_http(server, http, names):
    """The history a search hit opens in a room left: 200 up to the leave with `former`; a
    stranger's request is the 404 JSON of any room they may not see."""
    ann, bob, eve = [await new_user(http, server.url, names()) for _ in range(3)]
    room = (await ann.create_room("left-behind"))["id"]
    await bob.call("POST", f"/api/v1/rooms/{room}/join", {})
    await ann.send(room, "visible zebra")
    await bob.call("POST", f"/api/v1/rooms/{room}/leave", {})
    await ann.send(room, "hidden zebra")
    page = await bob.call("GET", f"/api/v1/rooms/{room}/messages")
    texts = [m.get("text") for m in page["messages"] if m["type"] == "message"]
    assert texts == ["visible zebra"] and page["former"]["left_seq"] == page["last_seq"]
    hit = (await bob.call("GET", "/api/v1/search?q=zebra"))["hits"]
    assert [h["message"]["text"] for h in hit] == ["visible zebra"]
    around = await bob.call("GET", f"/api/v1/rooms/{room}/messages?around={hit[0]['seq']}")
    assert max(m["seq"] for m in around["messages"]) == page["former"]["left_seq"]
    with pytest.raises(ApiError) as err:
        await eve.call("GET", f"/api/v1/rooms/{room}/messages?around={hit[0]['seq']}")
    assert (err.value.status, err.value.code) == (404, "not_found")
