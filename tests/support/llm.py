"""A small OpenAI-compatible chat-completions server (POST /v1/chat/completions, stream=true as
SSE), the language model the support assistant's tests talk to. Its answer depends on the last
user message: "slow ..." streams its pieces 0.25 s apart, "fail ..." answers HTTP 500, "hang ..."
never answers, anything else streams "You asked: <question> [1]" in a few pieces."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web


def answer_to(question: str) -> str:
    return f"You asked: {question} [1]"


class FakeModel:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""
        self._closing = asyncio.Event()

    async def start(self) -> FakeModel:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def close(self) -> None:
        self._closing.set()
        if self.runner:
            await self.runner.cleanup()

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"body": body, "authorization": request.headers.get("Authorization")})
        question = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        if question.startswith("fail"):
            return web.json_response({"error": {"message": "overloaded"}}, status=500)
        if question.startswith("hang"):
            await self._closing.wait()  # past any time-out of the assistant's
            return web.Response(status=503)
        answer = answer_to(question)
        pieces = [answer[i:i + 6] for i in range(0, len(answer), 6)]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for piece in pieces:
            chunk = {"id": "c1", "object": "chat.completion.chunk", "model": body.get("model"),
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
            if question.startswith("slow"):
                await asyncio.sleep(0.25)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response
