"""The assistant in any room and in direct chats (issue 12) against real servers: a room admin adds the
server's own bot (its id from GET /api/v1/server), a mention is answered over the WebSocket with a
typing notice first and `reply_to` the question; a direct chat with it is answered by the language
model (tests/support/llm.py, the tests' own OpenAI-compatible server) streaming by edits, and a
provider error becomes a polite fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.conftest import new_user
from tests.support.client import ApiError, Socket
from tests.support.llm import FakeModel, answer_to
from tests.support.server import FAST_LIMITS, ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("assistant")
    proc = ServerProcess(f"sqlite:///{workdir / 'parley.db'}", workdir, env=FAST_LIMITS).start()
    try:
        yield proc
    finally:
        proc.stop()


async def test_a_room_admin_adds_the_assistant_and_a_mention_is_answered(server, http, names):
    admin, member = await new_user(http, server.url, names("adm")), await new_user(http, server.url, names("mem"))
    desk = (await admin.create_room(names("desk"), "public"))["id"]
    await admin.call("POST", f"/api/v1/rooms/{desk}/support", expect=201)
    await admin.call("POST", f"/api/v1/rooms/{desk}/support/entries", {
        "title": "What are your opening hours?", "answer": "From 9:00 to 18:00, Monday to Friday."}, expect=201)
    room = (await admin.create_room(names("lobby")))["id"]
    await member.join(room)
    assistant = (await member.call("GET", "/api/v1/server"))["assistant"]
    assert assistant["bot"] is True
    with pytest.raises(ApiError) as refused:  # only the room's admins add the server's bot
        await member.call("POST", f"/api/v1/rooms/{room}/bots", {"bot_id": assistant["id"]})
    assert refused.value.status == 403 and refused.value.body["error"]["code"] == "forbidden"
    added = (await admin.call("POST", f"/api/v1/rooms/{room}/bots", {"bot_id": assistant["id"]}))["bot"]
    assert added["id"] == assistant["id"] and added["owner_id"] is None

    sock = await Socket.open(http, server.url, member.token)
    question = await sock.send_message(room, f"@{assistant['username']} what are your opening hours?")
    answer = await sock.wait_for(lambda f: f["type"] == "message" and f.get("room") == room
                                 and f["sender"]["id"] == assistant["id"], timeout=15)
    assert answer["sender"]["bot"] is True and answer["reply_to"] == question["seq"]
    assert answer["text"].startswith("From 9:00 to 18:00") and "What are your opening hours?" in answer["text"]
    typing = [f for f in sock.frames if f["type"] == "typing" and f["room"] == room]
    assert typing and typing[0]["user"]["id"] == assistant["id"]  # it said it was working on it
    await sock.close()


@pytest.fixture
async def model() -> AsyncIterator[FakeModel]:
    fake = await FakeModel().start()
    yield fake
    await fake.close()


@pytest.fixture
def llm_server(model: FakeModel, tmp_path) -> Iterator[ServerProcess]:
    proc = ServerProcess(f"sqlite:///{tmp_path / 'parley.db'}", tmp_path, env={
        **FAST_LIMITS, "PARLEY_ASSISTANT_URL": model.url, "PARLEY_ASSISTANT_TIMEOUT_S": "3"})
    proc.launch()  # the fake model answers in this test's event loop: wait for the server in a thread
    yield proc
    proc.stop()


async def test_a_direct_chat_is_answered_by_the_model_streaming_by_edits(llm_server, model, http, names):
    await asyncio.to_thread(llm_server.wait_ready)
    person = await new_user(http, llm_server.url, names("dm"))
    assistant = (await person.call("GET", "/api/v1/server"))["assistant"]
    chat = (await person.call("POST", "/api/v1/direct", {"usernames": [assistant["username"]]}))["id"]
    sock = await Socket.open(http, llm_server.url, person.token)
    question = "slow how do I reset my password"
    sent = await sock.send_message(chat, question)
    final = answer_to(question)
    edit = await sock.wait_for(lambda f: f.get("room") == chat and f["type"] == "message_edited"
                               and f["text"] == final, timeout=20)
    first = next(f for f in sock.events(chat, "message") if f["seq"] == edit["target"])
    assert first["reply_to"] == sent["seq"] and final.startswith(first["text"]) and first["text"] != final
    assert model.requests[-1]["body"]["messages"][-1] == {"role": "user", "content": question}

    await sock.send_message(chat, "fail what now")
    fallback = await sock.wait_for(lambda f: f.get("room") == chat and f["type"] == "message"
                                   and "cannot answer right now" in f.get("text", ""), timeout=15)
    assert fallback["sender"]["id"] == assistant["id"]
    await sock.close()
