"""Customer service and the assistant (issue 12).

A *support room* is an ordinary room whose joined members are the agents. Each visitor of the
embeddable widget gets a guest account (a users row marked `guest`, one session, confined by the
web layer to its conversation) and one *conversation*: a private room the assistant owns, with the
visitor as its member. The assistant answers there first, from the support room's knowledge base
(BM25, `core/support.py`) or, with PARLEY_ASSISTANT_URL, from a language model that streams its
answer into the message by edits. Below the threshold, on "talk to a person", or when the model
fails, the conversation waits for an agent: the agents get a `support_updated` frame, one takes it
(the assistant invites them and they join: from then on it is a room they read and write like any
other), replies, and resolves it. The transcript is the room's log and stays.

The assistant acts only through the services, as a user would (`Messages.send`, `Actions.edit`,
`Rooms.create/invite/join`, `Messages.typing`); `assistant_account` is the one place that says
which account it is (a bot account once bots exist).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
import orjson

from parley.core import support as rules
from parley.core import wire
from parley.core.errors import Conflict, Forbidden, NotFound, ParleyError, RateLimited
from parley.core.models import Event, EventType, MemberState, Role, User
from parley.core.ratelimit import Rate
from parley.services.accounts import Accounts
from parley.services.actions import Actions
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.services.messages import Messages
from parley.services.rooms import Rooms
from parley.store import bots as bot_store
from parley.store import rooms as room_store
from parley.store import support as store
from parley.store import users as user_store

log = logging.getLogger(__name__)

ASSISTANT_USERNAME = "assistant"
GUEST_RATE = Rate(burst=5, per_second=1 / 60)  # new visitors' conversations per address
NO_ROOM = "no such room"
NO_CONVERSATION = "no such conversation"
CONTEXT_MESSAGES = 12  # the recent conversation given to the language model
READERS_MAX = 500  # a larger private room gets the public knowledge bases only
ASK_RATE = Rate(burst=5, per_second=1 / 12)  # questions one person puts to the assistant in rooms and chats

# The assistant's own lines, in the visitor's language (a question with CJK characters gets Chinese).
LINES = {
    "en": {
        "cite": "From “{title}”",
        "handover": "I could not find an answer to that. A person from our team will join this conversation "
                    "shortly; you can keep writing here.",
        "asked": "Sure, a person from our team will join this conversation shortly.",
        "fallback": "Sorry, I cannot answer right now. A person from our team will join this conversation "
                    "shortly.",
        "taken": "{name} joined the conversation.",
        "resolved": "This conversation was marked as resolved. Write again any time.",
        "unknown": "Sorry, I could not find an answer to that in the knowledge base.",
        "unavailable": "Sorry, I cannot answer right now. Please try again later.",
    },
    "zh": {
        "cite": "出自“{title}”",
        "handover": "我没有找到这个问题的答案。我们的工作人员很快会加入对话，你可以继续在这里留言。",
        "asked": "好的，我们的工作人员很快会加入对话。",
        "fallback": "抱歉，我现在无法回答。我们的工作人员很快会加入对话。",
        "taken": "{name} 加入了对话。",
        "resolved": "这次对话已标记为已解决。随时欢迎再来留言。",
        "unknown": "抱歉，我在知识库里没有找到这个问题的答案。",
        "unavailable": "抱歉，我现在无法回答，请稍后再试。",
    },
}


def _lang(text: str) -> str:
    return "zh" if any("\u3400" <= c <= "\u9fff" for c in text) else "en"


@dataclass(frozen=True)
class Provider:
    """An OpenAI-compatible chat-completions endpoint (PARLEY_ASSISTANT_URL)."""

    url: str  # the base, e.g. http://127.0.0.1:11434/v1 (".../chat/completions" is added)
    key: str = ""
    model: str = ""
    timeout_s: float = 30.0
    edit_interval_s: float = 0.3

    @property
    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


class ProviderError(Exception):
    pass


async def stream_completion(provider: Provider, messages: list[dict[str, str]]) -> AsyncIterator[str]:
    """The answer's pieces as the provider streams them (SSE `data:` lines of chunks)."""
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if provider.key:
        headers["Authorization"] = f"Bearer {provider.key}"
    body = {"model": provider.model or "default", "messages": messages, "stream": True}
    timeout = aiohttp.ClientTimeout(total=provider.timeout_s, sock_read=min(provider.timeout_s, 15.0))
    async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
            provider.endpoint, data=orjson.dumps(body), headers=headers) as response:
        if response.status != 200:
            raise ProviderError(f"the provider answered HTTP {response.status}")
        async for raw in response.content:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                return
            try:
                chunk = orjson.loads(payload)
                piece = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content") or ""
            except (orjson.JSONDecodeError, AttributeError, IndexError, TypeError):
                raise ProviderError("the provider sent a chunk that is not chat-completion JSON") from None
            if piece:
                yield piece


class Support:
    def __init__(self, deps: Deps, emitter: Emitter, accounts: Accounts, rooms: Rooms, messages: Messages,
                 actions: Actions, provider: Provider | None = None, threshold: float = rules.THRESHOLD) -> None:
        self.deps = deps
        self.emitter = emitter
        self.accounts = accounts
        self.rooms = rooms
        self.messages = messages
        self.actions = actions
        self.provider = provider
        self.threshold = threshold
        self._guests: dict[int, bool] = {}  # user id -> guest? (never changes for an id)
        self._assistant: User | None = None
        self._turns: dict[int, asyncio.Lock] = {}  # one answer at a time per conversation
        self._tasks: set[asyncio.Task[None]] = set()

    # -- accounts ------------------------------------------------------------------------------------

    async def assistant_account(self) -> User:
        """The assistant's account: the one seam to switch to a bot account (issue 12, bots)."""
        if self._assistant is not None:
            return self._assistant
        async with self.deps.db.read() as conn:
            found = await store.assistant_id(conn)
            user = (await user_store.by_id(conn, found))[0] if found else None  # type: ignore[index]
        if user is None:
            name = ASSISTANT_USERNAME
            for _ in range(5):
                try:
                    user, _token = await self.accounts.provision(name, "Assistant", session=False)
                    break
                except ParleyError:  # the name is someone's: take another
                    name = f"assistant-{secrets.token_hex(3)}"
            assert user is not None
            async with self.deps.db.write() as conn:
                await store.mark_account(conn, user.id, "assistant", self.deps.clock())
            user = dataclasses.replace(user, bot=True)
            async with self.deps.db.read() as conn:  # two nodes made one each at once: the first wins
                first = await store.assistant_id(conn)
                if first is not None and first != user.id:
                    user = (await user_store.by_id(conn, first))[0]  # type: ignore[index]
        self._assistant = user
        return user

    async def is_guest(self, user_id: int) -> bool:
        known = self._guests.get(user_id)
        if known is None:
            async with self.deps.db.read() as conn:
                known = await store.account_kind(conn, user_id) == "guest"
            if len(self._guests) > 100_000:
                self._guests.clear()
            self._guests[user_id] = known
        return known

    # -- support rooms and their knowledge base ------------------------------------------------------

    async def _role(self, user: User, room_id: int) -> Role:
        """The user's role in a support room; 404 for a room that is not one or not theirs."""
        async with self.deps.db.read() as conn:
            membership = await room_store.membership(conn, room_id, user.id)
            support = await store.is_support_room(conn, room_id)
        if membership is None or membership.state is not MemberState.JOINED or not support:
            raise NotFound(NO_ROOM)
        return membership.role

    async def _admin(self, user: User, room_id: int) -> None:
        if await self._role(user, room_id) < Role.ADMIN:
            raise Forbidden("only the room's admins manage its support desk")

    async def enable(self, user: User, room_id: int) -> dict[str, Any]:
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            membership = await room_store.membership(conn, room_id, user.id)
        if room is None or membership is None or membership.state is not MemberState.JOINED:
            raise NotFound(NO_ROOM)
        if membership.role < Role.ADMIN:
            raise Forbidden("only the room's admins manage its support desk")
        if room.kind.value != "room":
            raise Forbidden("a direct chat cannot be a support room")
        assistant = await self.assistant_account()
        async with self.deps.db.write() as conn:
            created = await store.enable_room(conn, room_id, self.deps.clock())
            await bot_store.ensure_cursor(conn, room_id)  # it answers mentions in the support room too
            present = await room_store.membership(conn, room_id, assistant.id)
        if present is None or present.state is not MemberState.JOINED:  # it tells the agents here
            if present is None or present.state is not MemberState.INVITED:
                await self.rooms.invite(user, room_id, [assistant.username])
            await self.rooms.join(assistant, room_id)
        return {**await self.settings(user, room_id), "created": created}

    async def settings(self, user: User, room_id: int) -> dict[str, Any]:
        role = await self._role(user, room_id)
        async with self.deps.db.read() as conn:
            count = await store.entry_count(conn, room_id)
        return {"room": room_id, "entries": count, "admin": role >= Role.ADMIN,
                "assistant": (await self.assistant_account()).public(), "model": self.provider is not None}

    async def entries(self, user: User, room_id: int) -> dict[str, Any]:
        await self._role(user, room_id)
        async with self.deps.db.read() as conn:
            found = await store.entries(conn, room_id)
        return {"entries": [_entry(e) for e in found]}

    async def add_entry(self, user: User, room_id: int, title: object, answer: object, tags: object) -> dict[str, Any]:
        fields = rules.entry_fields(title, answer, tags)
        await self._admin(user, room_id)
        async with self.deps.db.write() as conn:
            if await store.entry_count(conn, room_id) >= rules.ENTRIES_MAX:
                raise Forbidden(f"a knowledge base holds at most {rules.ENTRIES_MAX} entries")
            entry = await store.add_entry(conn, room_id, *fields, self.deps.clock())
        return _entry(entry)

    async def import_entries(self, user: User, room_id: int, fmt: str, text: str) -> dict[str, Any]:
        """Entries from CSV or Markdown, all in one transaction (all or nothing)."""
        items = rules.parse_import(fmt, text)
        await self._admin(user, room_id)
        async with self.deps.db.write() as conn:
            if await store.entry_count(conn, room_id) + len(items) > rules.ENTRIES_MAX:
                raise Forbidden(f"a knowledge base holds at most {rules.ENTRIES_MAX} entries")
            added = await store.add_entries(conn, room_id, items, self.deps.clock())
        return {"entries": [_entry(e) for e in added]}

    async def update_entry(self, user: User, room_id: int, entry_id: int, title: object, answer: object,
                           tags: object) -> dict[str, Any]:
        fields = rules.entry_fields(title, answer, tags)
        await self._admin(user, room_id)
        async with self.deps.db.write() as conn:
            entry = await store.update_entry(conn, room_id, entry_id, *fields, self.deps.clock())
        if entry is None:
            raise NotFound("no such entry")
        return _entry(entry)

    async def delete_entry(self, user: User, room_id: int, entry_id: int) -> None:
        await self._admin(user, room_id)
        async with self.deps.db.write() as conn:
            if not await store.delete_entry(conn, room_id, entry_id):
                raise NotFound("no such entry")

    async def try_question(self, user: User, room_id: int, question: str) -> dict[str, Any]:
        """What the assistant would answer (the admin UI's "try it")."""
        await self._role(user, room_id)
        async with self.deps.db.read() as conn:
            found = await store.entries(conn, room_id)
        hits = rules.rank(question, found, 3)
        return {"threshold": self.threshold, "hits": [
            {"entry": _entry(h.entry), "score": round(h.score, 4), "coverage": round(h.coverage, 4),
             "answers": h.coverage >= self.threshold} for h in hits]}

    # -- the visitor's side --------------------------------------------------------------------------

    async def start(self, support_room_id: int, client_ip: str) -> dict[str, Any]:
        """A new visitor: a guest account with one session, and its conversation."""
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, support_room_id)
            support = await store.is_support_room(conn, support_room_id)
        if room is None or not support or room.archived:
            raise NotFound(NO_ROOM)
        wait = await self.deps.bus.hit(f"support-guest:{client_ip}", GUEST_RATE)
        if wait:
            raise RateLimited(f"too many new conversations from this address; retry in {wait:.0f} s", wait)
        assistant = await self.assistant_account()
        tag = secrets.token_hex(4)
        guest, token = await self.accounts.provision(f"guest-{tag}", f"Visitor {tag[:4]}", session=True)
        async with self.deps.db.write() as conn:
            await store.mark_account(conn, guest.id, "guest", self.deps.clock())
        self._guests[guest.id] = True
        private = await self.rooms.create(assistant, f"Support · Visitor {tag[:4]}", "", "private")
        await self.rooms.invite(assistant, private["id"], [guest.username], guests=True)
        await self.rooms.join(guest, private["id"])
        async with self.deps.db.write() as conn:
            conv = await store.add_conversation(conn, support_room_id=support_room_id, room_id=private["id"],
                                                guest_id=guest.id, now=self.deps.clock())
        assert token is not None
        return {"token": token, "conversation": await self._view(conv)}

    async def mine(self, guest: User) -> dict[str, Any]:
        conv = await self._guest_conversation(guest)
        page = await self.messages.history(guest, conv.room_id, limit=100)
        return {"conversation": await self._view(conv), **page}

    async def ask(self, guest: User, text: object, client_msg_id: object, session_id: int,
                  desk_base: str = "") -> dict[str, Any]:
        """The visitor writes: stored through the normal send path (rate limits, spam filter), then
        the assistant answers while the conversation is the assistant's."""
        conv = await self._guest_conversation(guest)
        sent, created = await self.messages.send(guest, conv.room_id, text, client_msg_id, session_id=session_id)
        question = str(text)
        if created:
            async with self.deps.db.write() as conn:
                await store.note_text(conn, conv.id, rules.snippet(question), self.deps.clock())
                conv = await store.conversation(conn, conv.id) or conv
            if conv.state == "resolved":  # writing again opens it again, for a person
                if await self._move(conv, ("resolved",), state="waiting"):
                    await self._call_agents(conv, desk_base)
            else:
                await self._notify(conv)
                if conv.state == "bot":
                    self._spawn(self._answer(conv, question, desk_base))
        wire_form = sent.wire() if hasattr(sent, "wire") else {"held": True}
        return {"message": wire_form, "created": created}

    async def handover(self, guest: User, desk_base: str = "") -> dict[str, Any]:
        """"Talk to a person"."""
        conv = await self._guest_conversation(guest)
        moved = await self._move(conv, ("bot", "resolved"), state="waiting")
        if moved is not None:
            await self._say(moved, LINES[_lang(moved.last_text)]["asked"])
            await self._call_agents(moved, desk_base)
        return {"conversation": await self._view(moved or conv)}

    async def _guest_conversation(self, guest: User) -> store.Conversation:
        async with self.deps.db.read() as conn:
            conv = await store.conversation_of_guest(conn, guest.id)
        if conv is None:
            raise NotFound(NO_CONVERSATION)
        return conv

    # -- the agents' side ----------------------------------------------------------------------------

    async def queue(self, agent: User, support_room_id: int, states: tuple[str, ...]) -> dict[str, Any]:
        await self._role(agent, support_room_id)
        async with self.deps.db.read() as conn:
            found = await store.queue(conn, support_room_id, states, 200)
        return {"conversations": [await self._view(c) for c in found]}

    async def take(self, agent: User, conversation_id: int) -> dict[str, Any]:
        conv = await self._agent_conversation(agent, conversation_id)
        moved = await self._move(conv, ("bot", "waiting"), state="taken", agent_id=agent.id)
        if moved is None:
            raise Conflict("someone else took this conversation, or it is resolved")
        assistant = await self.assistant_account()
        async with self.deps.db.read() as conn:
            membership = await room_store.membership(conn, conv.room_id, agent.id)
        if membership is None or membership.state is not MemberState.JOINED:
            await self.rooms.invite(assistant, conv.room_id, [agent.username])
            await self.rooms.join(agent, conv.room_id)
        return {"conversation": await self._view(moved)}

    async def resolve(self, agent: User, conversation_id: int) -> dict[str, Any]:
        conv = await self._agent_conversation(agent, conversation_id)
        moved = await self._move(conv, ("bot", "waiting", "taken"), state="resolved")
        if moved is None:
            raise Conflict("the conversation is resolved already")
        await self._say(moved, LINES[_lang(moved.last_text)]["resolved"])
        return {"conversation": await self._view(moved)}

    async def _agent_conversation(self, agent: User, conversation_id: int) -> store.Conversation:
        async with self.deps.db.read() as conn:
            conv = await store.conversation(conn, conversation_id)
        if conv is None:
            raise NotFound(NO_CONVERSATION)
        try:
            await self._role(agent, conv.support_room_id)
        except NotFound:
            raise NotFound(NO_CONVERSATION) from None
        return conv

    # -- state, views and frames ---------------------------------------------------------------------

    async def _move(self, conv: store.Conversation, expect: tuple[str, ...], **values: Any) -> store.Conversation | None:
        async with self.deps.db.write() as conn:
            moved = await store.set_state(conn, conv.id, self.deps.clock(), expect=expect, **values)
        if moved is not None:
            await self._notify(moved)
        return moved

    async def _notify(self, conv: store.Conversation) -> None:
        """Tell the support room's agents (its joined members) and the visitor about the conversation."""
        async with self.deps.db.read() as conn:
            agents = [u.id for u, _ in await room_store.member_list(conn, conv.support_room_id, (MemberState.JOINED,))
                      if u.id != (self._assistant.id if self._assistant else None)]
        view = await self._view(conv)
        frame = wire.SupportUpdatedFrame(conversation=_convert(view))
        await self.emitter.to_users([*agents, conv.guest_id], frame)

    async def _view(self, conv: store.Conversation) -> dict[str, Any]:
        async with self.deps.db.read() as conn:
            ids = [conv.guest_id] + ([conv.agent_id] if conv.agent_id else [])
            people = {i: found[0] for i in ids if (found := await user_store.by_id(conn, i))}
        agent = people.get(conv.agent_id) if conv.agent_id else None
        return {"id": conv.id, "support_room": conv.support_room_id, "room": conv.room_id,
                "guest": people[conv.guest_id].public() if conv.guest_id in people else None,
                "state": conv.state, "agent": agent.public() if agent else None, "last_text": conv.last_text,
                "created_at": conv.created_at, "updated_at": conv.updated_at}

    # -- the assistant -------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _call_agents(self, conv: store.Conversation, desk_base: str) -> None:
        """A line in the support room itself, so its members hear of it as of any message (unread
        counts, notifications), with the link to the desk."""
        async with self.deps.db.read() as conn:
            found = await user_store.by_id(conn, conv.guest_id)
        who = found[0].display_name if found else "A visitor"
        text = f"{who} is waiting for a person: “{conv.last_text}”"
        if desk_base:
            text += f"\n{desk_base}/support/desk/{conv.support_room_id}"
        assistant = await self.assistant_account()
        for _ in range(3):
            try:
                await self.messages.send(assistant, conv.support_room_id, text[: self.deps.limits.max_text])
                return
            except RateLimited as exc:
                await asyncio.sleep(min(exc.retry_after, 5.0))
            except ParleyError:  # not a member (removed by an admin): the frame still tells them
                return

    async def _answer(self, conv: store.Conversation, question: str, desk_base: str = "") -> None:
        lock = self._turns.setdefault(conv.id, asyncio.Lock())
        try:
            async with lock:
                async with self.deps.db.read() as conn:
                    current = await store.conversation(conn, conv.id)
                    entries = await store.entries(conn, conv.support_room_id)
                    room = await room_store.get(conn, conv.support_room_id)
                if current is None or current.state != "bot":
                    return
                lines = LINES[_lang(question)]
                if self.provider is not None:
                    hits = rules.rank(question, entries, 3)
                    if await self._stream(current, hits, room.name if room else "support", lines, desk_base):
                        return
                    await self._say(current, lines["fallback"])
                    if await self._move(current, ("bot",), state="waiting"):
                        await self._call_agents(current, desk_base)
                    return
                hit = rules.best_answer(question, entries, self.threshold)
                if hit is not None:
                    cite = lines["cite"].format(title=hit.entry.title)
                    await self._say(current, f"{hit.entry.answer}\n\n{cite} [#{hit.entry.id}]")
                else:
                    await self._say(current, lines["handover"])
                    if await self._move(current, ("bot",), state="waiting"):
                        await self._call_agents(current, desk_base)
        except Exception:  # never leave a visitor without an answer because of a bug here
            log.exception("the assistant failed in conversation %s", conv.id)
        finally:
            if len(self._turns) > 10_000:  # forget idle conversations' locks
                self._turns = {k: v for k, v in self._turns.items() if v.locked()}

    async def _say(self, conv: store.Conversation, text: str) -> int | None:
        return await self._post(conv.room_id, text)

    async def _post(self, room_id: int, text: str, reply_to: int | None = None) -> int | None:
        """Post as the assistant; waits out its rate limit a few times. The message's seq."""
        assistant = await self.assistant_account()
        for _ in range(5):
            try:
                sent, _ = await self.messages.send(assistant, room_id, text[: self.deps.limits.max_text],
                                                   reply_to=reply_to)
                return getattr(sent, "seq", None)
            except RateLimited as exc:
                await asyncio.sleep(min(exc.retry_after, 5.0))
        log.warning("the assistant could not post in room %s: rate limited", room_id)
        return None

    async def _edit(self, room_id: int, seq: int, text: str, *, final: bool) -> None:
        assistant = await self.assistant_account()
        for _ in range(5 if final else 1):
            try:
                await self.actions.edit(assistant, room_id, seq, text[: self.deps.limits.max_text])
                return
            except RateLimited as exc:  # a skipped intermediate edit is carried by the next one
                if final:
                    await asyncio.sleep(min(exc.retry_after, 5.0))

    async def _typing(self, room_id: int) -> None:
        with contextlib.suppress(ParleyError):
            await self.messages.typing(await self.assistant_account(), room_id)

    async def _stream(self, conv: store.Conversation, hits: list[rules.Hit], room_name: str,
                      lines: dict[str, str], desk_base: str) -> bool:
        """The language model's answer in a support conversation; on a failure midway the
        conversation waits for a person."""
        async def failed() -> None:
            if await self._move(conv, ("bot",), state="waiting"):
                await self._call_agents(conv, desk_base)
        return await self._stream_into(conv.room_id, hits, room_name, lines["fallback"], failed)

    async def _stream_into(self, room_id: int, hits: list[rules.Hit], room_name: str, fallback: str,
                           failed: Any = None, reply_to: int | None = None) -> bool:
        """The language model's answer streamed into one message by edits, throttled. False when
        it failed before saying anything (the caller posts the fallback)."""
        assert self.provider is not None
        assistant = await self.assistant_account()
        page = await self.messages.history(assistant, room_id, limit=CONTEXT_MESSAGES * 2)
        said = [(("assistant" if (m.get("sender") or {}).get("id") == assistant.id else "user"), m["text"])
                for m in page["messages"] if m["type"] == "message" and m.get("text")][-CONTEXT_MESSAGES:]
        prompt = rules.prompt(said, hits, room_name)
        text, seq, shown, last_edit = "", None, "", 0.0
        await self._typing(room_id)
        try:
            async with asyncio.timeout(self.provider.timeout_s):
                async for piece in stream_completion(self.provider, prompt):
                    text += piece
                    if not text.strip():
                        continue
                    if seq is None:
                        seq = await self._post(room_id, text.strip(), reply_to)
                        shown, last_edit = text, time.monotonic()
                        if seq is None:
                            return True  # could not post at all: stay quiet rather than post twice
                    elif time.monotonic() - last_edit >= self.provider.edit_interval_s:
                        await self._edit(room_id, seq, text.strip(), final=False)
                        shown, last_edit = text, time.monotonic()
        except (TimeoutError, aiohttp.ClientError, ProviderError, ValueError) as exc:
            log.warning("the assistant's provider failed in room %s: %s", room_id, exc)
            if seq is None:
                return False
            await self._edit(room_id, seq, f"{text.strip()} …\n\n{fallback}", final=True)
            if failed is not None:
                await failed()
            return True
        if seq is None:
            return False
        if text != shown:
            await self._edit(room_id, seq, text.strip(), final=True)
        return True

    # -- the assistant in rooms and direct chats -----------------------------------------------------

    async def hear(self, room_id: int, direct: bool, events: list[Event]) -> None:
        """The bot dispatcher's in-process listener (`Bots.listen`): called once across nodes with
        the committed events of a room with a bot cursor. The assistant answers a message that
        mentions it in a room it is a joined member of, and every message in a direct chat of two with
        it (in a group direct chat, what mentions it);
        never itself or another bot, never in a support conversation (`ask` answers there)."""
        asks = [e for e in events if e.type is EventType.MESSAGE and e.sender is not None
                and not e.sender.get("bot") and (e.data.get("text") or "").strip()]
        if not asks:
            return
        assistant = self._assistant
        if assistant is None:
            async with self.deps.db.read() as conn:
                if await store.assistant_id(conn) is None:
                    return  # no assistant yet: nobody can have added it anywhere
            assistant = await self.assistant_account()
        asks = [e for e in asks if e.sender["id"] != assistant.id  # type: ignore[index]
                and (direct or assistant.id in (e.data.get("mentions") or []))]
        if not asks:
            return
        async with self.deps.db.read() as conn:
            present = await room_store.membership(conn, room_id, assistant.id)
            conversation = await store.conversation_of_room(conn, room_id)
            pair = direct and await room_store.member_count(conn, room_id) == 2
        if present is None or present.state is not MemberState.JOINED or conversation is not None:
            return
        if direct and not pair:  # a group chat that includes it: only what mentions it
            asks = [e for e in asks if assistant.id in (e.data.get("mentions") or [])]
        for event in asks:
            asker = event.sender["id"]  # type: ignore[index]
            if await self.deps.bus.hit(f"assistant-ask:{asker}", ASK_RATE):
                log.info("the assistant skips a question in room %s: the asker is rate limited", room_id)
                continue
            self._spawn(self._answer_in_room(room_id, asker, event.seq, event.data.get("text") or ""))

    async def _readers(self, conn: Any, room: Any, asker: int) -> list[int]:
        """Whose reading rights bound the knowledge bases of an answer in `room`: the asker's in a
        direct chat of two; every joined person's in a private room or group chat (its answer is
        theirs to read); nobody's in a public room (anyone may join and read it later: public
        knowledge bases only)."""
        if room is None or (room.kind.value != "direct" and room.visibility.value == "public"):
            return []
        people = [u.id for u, _ in await room_store.member_list(conn, room.id, (MemberState.JOINED,))
                  if not u.bot]
        if len(people) > READERS_MAX:
            return []
        return people or [asker]

    async def _answer_in_room(self, room_id: int, asker: int, seq: int, text: str) -> None:
        lock = self._turns.setdefault(-room_id, asyncio.Lock())  # one answer at a time per room
        try:
            async with lock:
                question = rules.without_mentions(text) or text
                async with self.deps.db.read() as conn:
                    room = await room_store.get(conn, room_id)
                    if await store.is_support_room(conn, room_id):
                        entries = await store.entries(conn, room_id)
                    else:
                        entries = await store.readable_entries(conn, await self._readers(conn, room, asker))
                lines = LINES[_lang(question)]
                await self._typing(room_id)
                if self.provider is not None:
                    hits = rules.rank(question, entries, 3)
                    name = room.name if room is not None and room.name else "Parley"
                    if not await self._stream_into(room_id, hits, name, lines["unavailable"], reply_to=seq):
                        await self._post(room_id, lines["unavailable"], seq)
                    return
                hit = rules.best_answer(question, entries, self.threshold)
                if hit is not None:
                    cite = lines["cite"].format(title=hit.entry.title)
                    await self._post(room_id, f"{hit.entry.answer}\n\n{cite} [#{hit.entry.id}]", seq)
                else:
                    await self._post(room_id, lines["unknown"], seq)
        except ParleyError as exc:  # muted, removed meanwhile, the room archived: it keeps quiet
            log.info("the assistant could not answer in room %s: %s", room_id, exc.message)
        except Exception:  # a bug here never takes the dispatcher down with it
            log.exception("the assistant failed in room %s", room_id)
        finally:
            if len(self._turns) > 10_000:  # forget idle rooms' locks
                self._turns = {k: v for k, v in self._turns.items() if v.locked()}


def _entry(entry: rules.Entry) -> dict[str, Any]:
    return {"id": entry.id, "title": entry.title, "answer": entry.answer, "tags": entry.tags}


def _convert(view: dict[str, Any]) -> wire.SupportConversation:
    return msgspec.convert(view, wire.SupportConversation)
