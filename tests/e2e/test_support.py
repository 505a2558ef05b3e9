"""Customer service and the assistant (issue 12) against real servers: the knowledge base answers
or hands over, an agent takes the conversation and the visitor sees the reply live, a guest's
session reaches nothing but its own conversation, and the language model's answer streams in by
edits (a small OpenAI-compatible server of the test's own, tests/support/llm.py) with a polite
fallback when it fails or hangs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.conftest import new_user
from tests.support.client import Api, ApiError, Socket
from tests.support.llm import FakeModel, answer_to
from tests.support.server import FAST_LIMITS, ServerProcess

SITE = "http://127.0.0.1:5999"
ENTRIES = [
    ("How do I reset my password?", "Open Settings, choose Security, then Reset password. The link is valid "
     "for one hour.", "account,password"),
    ("What are your opening hours?", "We answer from 9:00 to 18:00, Monday to Friday.", "hours"),
    ("如何申请退款？", "在订单页面点击“申请退款”，三个工作日内处理。", "退款"),
]


@pytest.fixture(scope="module")
def kb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("support")
    proc = ServerProcess(f"sqlite:///{workdir / 'parley.db'}", workdir,
                         env={**FAST_LIMITS, "PARLEY_SUPPORT_ORIGINS": SITE}).start()
    try:
        yield proc
    finally:
        proc.stop()


async def desk(http, base: str, names) -> tuple[Api, Api, int]:
    """An admin and an agent in a new support room with the knowledge base above."""
    admin, agent = await new_user(http, base, names("adm")), await new_user(http, base, names("agent"))
    room = (await admin.create_room(names("desk"), "private"))["id"]
    await admin.call("POST", f"/api/v1/rooms/{room}/invite", {"usernames": [agent.user["username"]]})
    await agent.join(room)
    assert (await admin.call("POST", f"/api/v1/rooms/{room}/support", expect=201))["entries"] == 0
    for title, answer, tags in ENTRIES:
        await admin.call("POST", f"/api/v1/rooms/{room}/support/entries", {"title": title, "answer": answer,
                                                                          "tags": tags}, expect=201)
    return admin, agent, room


async def visitor(http, base: str, room: int) -> tuple[Api, dict, Socket]:
    answer = await Api(http, base).call("POST", f"/api/v1/support/rooms/{room}/visit",
                                        headers={"X-Requested-With": "parley"}, expect=201)
    guest = Api(http, base, answer["token"])
    sock = await Socket.open(http, base, answer["token"])
    return guest, answer["conversation"], sock


def said_by(sock: Socket, room: int, name: str) -> list[str]:
    return [f["text"] for f in sock.events(room, "message") if f["sender"]["username"] == name]


async def test_the_knowledge_base_answers_and_an_agent_takes_over(kb_server, http, names):
    admin, agent, room = await desk(http, kb_server.url, names)
    agent_sock = await Socket.open(http, kb_server.url, agent.token)
    guest, conv, sock = await visitor(http, kb_server.url, room)
    assert conv["state"] == "bot" and conv["support_room"] == room
    chat = conv["room"]

    await guest.call("POST", "/api/v1/support/me/messages", {"text": "how can I RESET my passwórd", "client_msg_id": "q1"})
    reply = await sock.wait_for(lambda f: f.get("room") == chat and f["type"] == "message"
                                and f["sender"]["username"] != conv["guest"]["username"])
    assistant = reply["sender"]["username"]
    assert reply["text"].startswith("Open Settings, choose Security") and "How do I reset my password?" in reply["text"]

    await guest.call("POST", "/api/v1/support/me/messages", {"text": "退款怎么申请", "client_msg_id": "q2"})
    zh = await sock.wait_for(lambda f: f.get("room") == chat and f.get("text", "").startswith("在订单页面"))
    assert "出自“如何申请退款？”" in zh["text"]

    # Unanswerable: the assistant says a person will come, the agents hear of it.
    await guest.call("POST", "/api/v1/support/me/messages", {"text": "Is my parcel lost in Kraków?",
                                                            "client_msg_id": "q3"})
    handed = await sock.wait_for(lambda f: f.get("room") == chat and "A person from our team" in f.get("text", ""))
    assert handed["sender"]["username"] == assistant
    waiting = await agent_sock.wait_for(lambda f: f["type"] == "support_updated"
                                        and f["conversation"]["id"] == conv["id"]
                                        and f["conversation"]["state"] == "waiting")
    assert waiting["conversation"]["last_text"] == "Is my parcel lost in Kraków?"
    notice = await agent_sock.wait_for(lambda f: f.get("room") == room and f["type"] == "message")  # the desk room too
    assert notice["sender"]["username"] == assistant and "Is my parcel lost in Kraków?" in notice["text"]
    assert notice["text"].endswith(f"{kb_server.url}/support/desk/{room}")
    queue = await agent.call("GET", f"/api/v1/rooms/{room}/support/conversations")
    assert [c["id"] for c in queue["conversations"] if c["state"] == "waiting"] == [conv["id"]]

    # The agent takes it, reads the transcript, replies; the visitor sees it live.
    taken = await agent.call("POST", f"/api/v1/support/conversations/{conv['id']}/take")
    assert taken["conversation"]["state"] == "taken" and taken["conversation"]["agent"]["id"] == agent.user["id"]
    with pytest.raises(ApiError) as twice:
        await admin.call("POST", f"/api/v1/support/conversations/{conv['id']}/take")
    assert twice.value.status == 409
    history = await agent.history(chat)
    assert "Is my parcel lost in Kraków?" in [m.get("text") for m in history["messages"]]
    await agent.send(chat, "Let me check that parcel for you.")
    live = await sock.wait_for(lambda f: f.get("text") == "Let me check that parcel for you.")
    assert live["sender"]["id"] == agent.user["id"]
    # Taken: the assistant keeps quiet, the agent hears the visitor.
    await guest.call("POST", "/api/v1/support/me/messages", {"text": "thanks, password too", "client_msg_id": "q4"})
    await agent_sock.wait_for(lambda f: f["type"] == "support_updated"
                              and f["conversation"]["last_text"] == "thanks, password too")
    await sock.barrier()
    await agent.call("POST", f"/api/v1/support/conversations/{conv['id']}/resolve")
    await sock.wait_for(lambda f: f.get("room") == chat and "resolved" in f.get("text", ""))
    assert said_by(sock, chat, assistant)[-2] == handed["text"]  # nothing answered "thanks, password too"
    mine = await guest.call("GET", "/api/v1/support/me")
    assert mine["conversation"]["state"] == "resolved" and len(mine["messages"]) >= 8  # the transcript stays


async def test_a_guest_reaches_nothing_but_its_own_conversation(kb_server, http, names):
    admin, agent, room = await desk(http, kb_server.url, names)
    other_room = (await admin.create_room(names("public")))["id"]
    first, conv, _sock = await visitor(http, kb_server.url, room)
    second, conv2, sock2 = await visitor(http, kb_server.url, room)
    await first.call("POST", "/api/v1/support/me/messages", {"text": "a secret of the first visitor"})
    for path in (f"/api/v1/rooms/{conv['room']}/messages", f"/api/v1/rooms/{conv['room']}",
                 f"/api/v1/rooms/{other_room}", "/api/v1/rooms", f"/api/v1/rooms/{room}/support/conversations",
                 f"/api/v1/rooms/{room}/support/entries", "/api/v1/me", "/api/v1/search?q=secret"):
        with pytest.raises(ApiError) as refused:
            await second.call("GET", path)
        assert refused.value.status == 404, path
    with pytest.raises(ApiError) as refused:
        await second.call("POST", "/api/v1/rooms", {"name": names("mine")})
    assert refused.value.status == 404
    with pytest.raises(ApiError) as refused:
        await second.call("POST", f"/api/v1/support/conversations/{conv['id']}/take")
    assert refused.value.status == 404
    # Over the socket too: not a member of the first conversation.
    answer = await sock2.send_message(conv["room"], "let me in")
    assert (answer["type"], answer["code"]) == ("error", "not_found")
    assert sock2.events(conv["room"]) == []
    own = await second.call("GET", "/api/v1/support/me")
    assert own["conversation"]["id"] == conv2["id"]
    assert "a secret of the first visitor" not in str(own)
    # Agents of another desk see neither queue nor conversation.
    outsider = await new_user(http, kb_server.url, names("out"))
    with pytest.raises(ApiError) as refused:
        await outsider.call("GET", f"/api/v1/rooms/{room}/support/conversations")
    assert refused.value.status == 404
    with pytest.raises(ApiError) as refused:
        await outsider.call("POST", f"/api/v1/support/conversations/{conv['id']}/take")
    assert refused.value.status == 404
    # A member who is no admin reads the knowledge base but does not change it.
    with pytest.raises(ApiError) as refused:
        await agent.call("POST", f"/api/v1/rooms/{room}/support/entries", {"title": "x", "answer": "y"})
    assert refused.value.status == 403
    assert len((await agent.call("GET", f"/api/v1/rooms/{room}/support/entries"))["entries"]) == len(ENTRIES)
    # Bad input: JSON errors, nothing stored.
    for body in ({"title": "", "answer": "y"}, {"title": "t", "answer": "a\u0000"}, {"title": "t"},
                 {"title": "t", "answer": "a", "extra": 1}):
        with pytest.raises(ApiError) as refused:
            await admin.call("POST", f"/api/v1/rooms/{room}/support/entries", body)
        assert refused.value.status == 422 and refused.value.body["error"]["code"] == "invalid"
    assert len((await admin.call("GET", f"/api/v1/rooms/{room}/support/entries"))["entries"]) == len(ENTRIES)
    # A visit needs the widget's header (no cross-site form), and a support room.
    with pytest.raises(ApiError) as refused:
        await Api(http, kb_server.url).call("POST", f"/api/v1/support/rooms/{room}/visit")
    assert refused.value.status == 403
    with pytest.raises(ApiError) as refused:
        await Api(http, kb_server.url).call("POST", f"/api/v1/support/rooms/{other_room}/visit",
                                            headers={"X-Requested-With": "parley"})
    assert refused.value.status == 404


async def test_knowledge_base_crud_and_try(kb_server, http, names):
    admin, _agent, room = await desk(http, kb_server.url, names)
    entries = (await admin.call("GET", f"/api/v1/rooms/{room}/support/entries"))["entries"]
    hours = next(e for e in entries if "hours" in e["title"])
    changed = await admin.call("PUT", f"/api/v1/rooms/{room}/support/entries/{hours['id']}",
                               {"title": "When are you open?", "answer": "Always.", "tags": "hours, time"})
    assert changed == {"id": hours["id"], "title": "When are you open?", "answer": "Always.", "tags": "hours time"}
    tried = await admin.call("GET", f"/api/v1/rooms/{room}/support/try?q=when+are+you+open")
    assert tried["hits"][0]["entry"]["id"] == hours["id"] and tried["hits"][0]["answers"]
    imported = await admin.call("POST", f"/api/v1/rooms/{room}/support/import", {
        "format": "markdown", "text": "# Shop FAQ\n\n## Do you have parking?\nYes, behind the shop.\nTags: car\n"},
        expect=201)
    assert [(e["title"], e["tags"]) for e in imported["entries"]] == [("Do you have parking?", "car")]
    with pytest.raises(ApiError) as refused:  # all or nothing
        await admin.call("POST", f"/api/v1/rooms/{room}/support/import", {"format": "csv", "text": "a,b\nc,\n"})
    assert refused.value.status == 422 and "entry 2" in refused.value.body["error"]["message"]
    assert len((await admin.call("GET", f"/api/v1/rooms/{room}/support/entries"))["entries"]) == len(ENTRIES) + 1
    await admin.call("DELETE", f"/api/v1/rooms/{room}/support/entries/{hours['id']}", expect=204)
    with pytest.raises(ApiError) as gone:
        await admin.call("DELETE", f"/api/v1/rooms/{room}/support/entries/{hours['id']}")
    assert gone.value.status == 404
    assert not (await admin.call("GET", f"/api/v1/rooms/{room}/support/try?q=always"))["hits"]


async def test_the_widget_page_may_be_framed_by_the_configured_sites_only(kb_server, http):
    async with http.get(f"{kb_server.url}/support/widget/1") as page:
        csp = page.headers["Content-Security-Policy"]
        assert f"frame-ancestors 'self' {SITE}" in csp and "script-src 'self'" in csp
        assert "X-Frame-Options" not in page.headers
    async with http.get(f"{kb_server.url}/") as index:
        assert index.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in index.headers[
            "Content-Security-Policy"]
    async with http.get(f"{kb_server.url}/support/desk/1") as desk:
        assert desk.headers["X-Frame-Options"] == "DENY" and "desk.js" in await desk.text()
    async with http.get(f"{kb_server.url}/widget.js") as script:
        assert script.status == 200 and "javascript" in script.headers["Content-Type"]
        assert "data-parley-support" in await script.text()


# -- the language model ----------------------------------------------------------------------------------


@pytest.fixture
async def model() -> AsyncIterator[FakeModel]:
    fake = await FakeModel().start()
    yield fake
    await fake.close()


@pytest.fixture
def llm_server(model: FakeModel, tmp_path) -> Iterator[ServerProcess]:
    proc = ServerProcess(f"sqlite:///{tmp_path / 'parley.db'}", tmp_path, env={
        **FAST_LIMITS, "PARLEY_ASSISTANT_URL": model.url, "PARLEY_ASSISTANT_KEY": "sk-test",
        "PARLEY_ASSISTANT_MODEL": "tiny", "PARLEY_ASSISTANT_TIMEOUT_S": "3"})
    proc.launch()  # the fake model answers in this test's event loop: wait for the server in a thread
    yield proc
    proc.stop()


async def test_the_language_model_streams_its_answer_by_edits_and_fails_politely(llm_server, model, http, names):
    import asyncio

    await asyncio.to_thread(llm_server.wait_ready)
    _admin, agent, room = await desk(http, llm_server.url, names)
    agent_sock = await Socket.open(http, llm_server.url, agent.token)
    guest, conv, sock = await visitor(http, llm_server.url, room)
    chat = conv["room"]
    question = "slow how do I reset my password"
    await guest.call("POST", "/api/v1/support/me/messages", {"text": question})
    final = answer_to(question)
    edit = await sock.wait_for(lambda f: f.get("room") == chat and f["type"] == "message_edited"
                               and f["text"] == final, timeout=20)
    first = next(f for f in sock.events(chat, "message") if f["seq"] == edit["target"])
    assert final.startswith(first["text"]) and first["text"] != final  # posted early, then grown
    edits = [f for f in sock.events(chat, "message_edited") if f["target"] == edit["target"]]
    assert 1 <= len(edits) < len(final) // 6  # throttled: fewer edits than streamed pieces
    sent = model.requests[-1]
    assert sent["authorization"] == "Bearer sk-test" and sent["body"]["stream"] is True
    assert sent["body"]["model"] == "tiny"
    assert "Open Settings, choose Security" in sent["body"]["messages"][0]["content"]  # the top entries
    assert sent["body"]["messages"][-1] == {"role": "user", "content": question}

    # A provider error, then a hang past PARLEY_ASSISTANT_TIMEOUT_S: the fallback, and a person is called.
    for word in ("fail", "hang"):
        _g, conv2, sock2 = await visitor(http, llm_server.url, room)
        await _g.call("POST", "/api/v1/support/me/messages", {"text": f"{word} what now"})
        fallback = await sock2.wait_for(lambda f, c=conv2: f.get("room") == c["room"]
                                        and "cannot answer right now" in f.get("text", ""), timeout=15)
        assert fallback["sender"]["username"] != conv2["guest"]["username"]
        await agent_sock.wait_for(lambda f, c=conv2: f["type"] == "support_updated"
                                  and f["conversation"]["id"] == c["id"] and f["conversation"]["state"] == "waiting")
