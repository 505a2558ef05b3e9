"""Bots and webhooks (issue 12).

A bot is a user row with `bot` set and an owner. Its token is a session that lasts ten years: bearer
authentication on REST, `?token=` or an `auth` frame on the socket work as for anyone, revocation is
the sessions' (rotate and delete revoke it on every node). In-process integrations (the assistant)
act as a bot through `Bots.bot_user` and `Bots.send_as`, with no token.

Outgoing webhooks are delivered by a background task per process, off the send path: the dispatcher
reads each room's log above its durable cursor (`webhook_cursors`, one row per room a bot is in),
matches message events against the webhooks of the room's bots, and in one transaction moves the
cursor (compare and set, so two nodes never both enqueue) and queues deliveries
(`webhook_deliveries`). The deliverer takes due rows with a lease, POSTs them signed, and records the
outcome; failures are retried with exponential back-off up to `core.bots.MAX_ATTEMPTS`. A restart
loses nothing: the queue and the cursors are in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from parley.core import bots as rules
from parley.core import mentions, permissions, validation
from parley.core.errors import Conflict, Forbidden, Invalid, NotFound, ParleyError, RateLimited, Unavailable
from parley.core.models import EventType, MemberState, Role, User
from parley.core.proxies import parse_networks
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import bots as store
from parley.store import rooms as room_store
from parley.store import users as user_store

log = logging.getLogger("parley.bots")

TOKEN_TTL_MS = 10 * 365 * 86_400_000
BOTS_PER_OWNER = 25
WEBHOOKS_PER_BOT = 10
_NO_BOT = "no such bot"
_NO_ROOM = "no such room"


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class BlockedAddress(Exception):
    """The webhook's host is (or resolves to) an address webhooks may not reach."""


class _CheckedResolver(AbstractResolver):
    """Resolves like aiohttp and refuses any address outside the allowed ones: the connection goes to
    the address that was checked, so a name cannot resolve to a public address for the check and a
    private one for the connection."""

    def __init__(self, allowed: tuple[Any, ...]) -> None:
        self.allowed = allowed
        self.inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        for item in found:
            if not rules.address_allowed(item["host"], self.allowed):
                raise BlockedAddress(f"{host} resolves to {item['host']}, which webhooks may not reach")
        return found

    async def close(self) -> None:
        await self.inner.close()


PRUNE_EVERY_S = 3600.0  # the delivery log is pruned hourly by every node (deletes are idempotent)
PRUNE_BATCH = 1000


class Bots:
    def __init__(self, deps: Deps, emitter: Emitter, rooms: Any, messages: Any, *, allow_private: str = "",
                 timeout_s: float = 10.0, retry_base_s: float = 10.0, poll_s: float = 0.5,
                 log_days: float = 14.0) -> None:
        self.deps = deps
        self.emitter = emitter
        self.rooms = rooms
        self.messages = messages
        self.allowed = parse_networks(allow_private)
        self.timeout_s = timeout_s
        self.retry_base_ms = max(1, int(retry_base_s * 1000))
        self.poll_s = poll_s
        self.log_ms = int(log_days * 86_400_000)
        self._tasks: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()
        self._listeners: list[Any] = []

    def listen(self, handler: Any) -> None:
        """An in-process listener (the assistant): `await handler(room_id, direct, events)` for the
        events of every room with a cursor, once across nodes (called by the node whose compare and
        set moved the cursor, after it moved). At most once: a node stopping mid-call loses that call."""
        self._listeners.append(handler)

    # -- bot accounts ------------------------------------------------------------------------------------
    async def create(self, owner: User, username: object, display_name: object = None) -> tuple[dict[str, Any], str]:
        """A bot owned by `owner`, and its token (shown once)."""
        if owner.bot:
            raise Forbidden("a bot cannot own bots")
        name = validation.username(username)
        if name.lower() in mentions.ROOM_TOKENS:
            raise Invalid(f"the username {name!r} is reserved")
        shown = validation.display_name(name if display_name in (None, "") else display_name)
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            if len(await store.bots_of(conn, owner.id)) >= BOTS_PER_OWNER:
                raise Forbidden(f"one person may own at most {BOTS_PER_OWNER} bots")
            bot = await store.insert_bot(conn, owner_id=owner.id, username=name, display_name=shown, now=now)
            if bot is None:
                raise Conflict("that username is taken")
            token = await self._new_token(conn, bot.id, now)
        return self.view(bot), token

    async def _new_token(self, conn: Any, bot_id: int, now: int) -> str:
        token = "pbot_" + secrets.token_urlsafe(32)
        await user_store.insert_session(conn, bot_id, _hash(token), now, now + TOKEN_TTL_MS)
        return token

    @staticmethod
    def view(bot: User) -> dict[str, Any]:
        return {**bot.profile(), "bot": True, "owner_id": bot.owner_id, "created_at": bot.created_at}

    async def list(self, owner: User) -> list[dict[str, Any]]:
        async with self.deps.db.read() as conn:
            return [self.view(b) for b in await store.bots_of(conn, owner.id)]

    async def _owned(self, conn: Any, owner: User, bot_id: int) -> User:
        bot = await store.bot(conn, bot_id)
        if bot is None or bot.server_bot or (bot.owner_id != owner.id and not owner.is_admin):
            raise NotFound(_NO_BOT)  # the server's own bot has no token, webhooks or owner to manage it
        return bot

    async def get(self, owner: User, bot_id: int) -> dict[str, Any]:
        async with self.deps.db.read() as conn:
            bot = await self._owned(conn, owner, bot_id)
            out = self.view(bot)
            out["webhooks"] = await store.webhooks_of(conn, bot_id)
            out["hooks"] = await store.hooks_of(conn, bot_id)
            out["commands"] = await store.commands_of(conn, bot_id)
            out["rooms"] = await store.joined_rooms(conn, bot_id)
        return out

    async def rotate(self, owner: User, bot_id: int) -> str:
        """A new token; every session of the old one is revoked (its sockets close on every node)."""
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            await self._owned(conn, owner, bot_id)
            await user_store.revoke_all(conn, bot_id, now)
            token = await self._new_token(conn, bot_id, now)
        await self.emitter.revoke(bot_id)
        return token

    async def delete(self, owner: User, bot_id: int) -> None:
        """The bot leaves its rooms (a `member_left` each), loses its token, webhooks, hooks and commands;
        the row stays, disabled, as the author of what it wrote."""
        now = self.deps.clock()
        emitted = []
        async with self.deps.db.write() as conn:
            bot = await self._owned(conn, owner, bot_id)
            for room_id in await store.joined_rooms(conn, bot_id):
                await room_store.get(conn, room_id, lock=True)
                emitted += await self.rooms._append(conn, room_id, bot, [(EventType.MEMBER_LEFT, {"user": bot.public()})])
                await room_store.set_state(conn, room_id, bot_id, MemberState.LEFT, now, left_seq=emitted[-1].seq)
            await store.delete_bot_rows(conn, bot_id)
            await user_store.update_user(conn, bot_id, disabled=True, deleted_at=now)
            await user_store.revoke_all(conn, bot_id, now)
        await self.emitter.room_events(emitted)
        await self.emitter.revoke(bot_id)

    async def add_to_room(self, actor: User, room_id: int, bot_id: object) -> dict[str, Any]:
        """Add a bot to a room: by the room's admins, or by the bot's owner when a joined member."""
        if not isinstance(bot_id, int) or isinstance(bot_id, bool):
            raise Invalid("bot_id must be an integer")
        async with self.deps.db.write() as conn:
            room = await room_store.get(conn, room_id, lock=True)
            membership = await room_store.membership(conn, room_id, actor.id)
            if room is None or not permissions.can_see(room, membership):
                raise NotFound(_NO_ROOM)
            bot = await store.bot(conn, bot_id)
            if bot is None or bot.disabled:
                raise NotFound(_NO_BOT)
            joined = membership is not None and membership.state is MemberState.JOINED
            if not joined or not (membership.role >= Role.ADMIN or bot.owner_id == actor.id):
                raise Forbidden("only the room's admins, or the bot's owner when a member, add bots")
            if room.archived:
                raise Forbidden("the room is archived and read-only")
            if room.kind.value == "direct":
                raise Forbidden("start a direct chat with the bot instead")
            current = await room_store.membership(conn, room_id, bot.id)
            emitted = []
            if current is None or current.state is not MemberState.JOINED:
                await self.rooms._refuse_banned(conn, room_id, [bot])
                emitted = await self.rooms._add_member(conn, room_id, actor, bot, Role.MEMBER)
            await store.ensure_cursor(conn, room_id)
        await self.emitter.room_events(emitted)
        return self.view(bot)

    async def bot_user(self, bot_id: int) -> User:
        """For in-process integrations: the bot as the user the services act for."""
        async with self.deps.db.read() as conn:
            bot = await store.bot(conn, bot_id)
        if bot is None or bot.disabled:
            raise NotFound(_NO_BOT)
        return bot

    async def send_as(self, bot: User, room_id: int, text: object, *, client_msg_id: object = None,
                      reply_to: object = None) -> Any:
        """Post as the bot (in-process: webhook replies, incoming hooks, the assistant): the send path,
        its checks (membership, mutes, the bot's rate limit) and its idempotency."""
        if not bot.bot:
            raise Forbidden("only bots post through send_as")
        event, _ = await self.messages.send(bot, room_id, text, client_msg_id, reply_to=reply_to)
        return event

    # -- slash commands ----------------------------------------------------------------------------------
    async def set_commands(self, caller: User, bot_id: int, commands: list[Any]) -> list[dict[str, str]]:
        """Replace the bot's commands: by its owner, or by the bot itself (with its token)."""
        clean, seen = [], set()
        for item in commands:
            name = rules.command_name(item.name)
            if name in seen:
                raise Invalid(f"/{name} is listed twice")
            seen.add(name)
            clean.append({"name": name, "description": validation.topic(item.description)[:200],
                          "usage": validation.topic(item.usage)[:100]})
        async with self.deps.db.write() as conn:
            if caller.id != bot_id:
                await self._owned(conn, caller, bot_id)
            elif await store.bot(conn, bot_id) is None:
                raise NotFound(_NO_BOT)
            await store.set_commands(conn, bot_id, clean)
            return await store.commands_of(conn, bot_id)

    async def room_commands(self, user: User, room_id: int) -> list[dict[str, Any]]:
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            membership = await room_store.membership(conn, room_id, user.id)
            if room is None or membership is None or membership.state is not MemberState.JOINED:
                raise NotFound(_NO_ROOM)
            return await store.room_commands(conn, room_id)

    # -- outgoing webhooks -------------------------------------------------------------------------------
    async def create_webhook(self, owner: User, bot_id: int, url: object, events: object,
                             room_ids: object = None) -> dict[str, Any]:
        clean_url = rules.webhook_url(url)
        kinds = rules.webhook_events(events)
        if room_ids is not None and (not isinstance(room_ids, list) or not all(
                isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in room_ids) or len(room_ids) > 100):
            raise Invalid("rooms must be null or a list of at most 100 room ids")
        host = urlsplit(clean_url).hostname or ""
        with contextlib.suppress(ValueError):  # a literal address is checked now; a name when it resolves
            if not rules.address_allowed(ipaddress.ip_address(host.strip("[]")), self.allowed):
                raise Invalid("url: webhooks may not reach private, loopback or link-local addresses "
                              "(PARLEY_WEBHOOK_ALLOW_PRIVATE)", code="forbidden_address")
        secret = secrets.token_hex(32)
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            await self._owned(conn, owner, bot_id)
            if len(await store.webhooks_of(conn, bot_id)) >= WEBHOOKS_PER_BOT:
                raise Forbidden(f"a bot has at most {WEBHOOKS_PER_BOT} webhooks")
            webhook_id = await store.insert_webhook(conn, bot_id=bot_id, url=clean_url, secret=secret, events=kinds,
                                                    room_ids=None if room_ids is None else sorted(set(room_ids)),
                                                    now=now)
            for room_id in await store.joined_rooms(conn, bot_id):
                await store.ensure_cursor(conn, room_id)
        return {"id": webhook_id, "bot_id": bot_id, "url": clean_url, "events": kinds, "rooms": room_ids,
                "secret": secret, "created_at": now}

    async def webhooks(self, owner: User, bot_id: int) -> list[dict[str, Any]]:
        async with self.deps.db.read() as conn:
            await self._owned(conn, owner, bot_id)
            return await store.webhooks_of(conn, bot_id)

    async def delete_webhook(self, owner: User, bot_id: int, webhook_id: int) -> None:
        async with self.deps.db.write() as conn:
            await self._owned(conn, owner, bot_id)
            if not await store.delete_webhook(conn, bot_id, webhook_id):
                raise NotFound("no such webhook")

    async def deliveries(self, owner: User, bot_id: int, limit: int = 50) -> list[dict[str, Any]]:
        async with self.deps.db.read() as conn:
            await self._owned(conn, owner, bot_id)
            return await store.deliveries(conn, bot_id, limit)

    # -- incoming webhooks -------------------------------------------------------------------------------
    async def create_hook(self, owner: User, bot_id: int, room_id: object) -> dict[str, Any]:
        if not isinstance(room_id, int) or isinstance(room_id, bool):
            raise Invalid("room must be a room id")
        secret = secrets.token_urlsafe(24)
        async with self.deps.db.write() as conn:
            await self._owned(conn, owner, bot_id)
            current = await room_store.membership(conn, room_id, bot_id)
            if current is None or current.state is not MemberState.JOINED:
                raise Invalid("add the bot to that room first")
            hook_id = await store.insert_hook(conn, bot_id=bot_id, room_id=room_id, secret_hash=_hash(secret),
                                              now=self.deps.clock())
        return {"id": hook_id, "room": room_id, "secret": secret, "url": f"/api/v1/hooks/{hook_id}/{secret}"}

    async def delete_hook(self, owner: User, bot_id: int, hook_id: int) -> None:
        async with self.deps.db.write() as conn:
            await self._owned(conn, owner, bot_id)
            if not await store.delete_hook(conn, bot_id, hook_id):
                raise NotFound("no such hook")

    async def post_hook(self, hook_id: int, secret: str, text: object) -> Any:
        """An incoming webhook's post: the secret compared in constant time, then rate limited per hook."""
        async with self.deps.db.read() as conn:
            found = await store.hook(conn, hook_id)
        expected = found.secret_hash if found is not None else _hash("no hook")
        if not hmac.compare_digest(expected, _hash(secret)) or found is None:
            raise NotFound("no such hook")
        wait = await self.deps.bus.hit(f"hook:{hook_id}", self.deps.limits.hook_rate)
        if wait:
            raise RateLimited(f"this hook posts too fast; retry in {wait:.1f} s", wait)
        bot = await self.bot_user(found.bot_id)
        return await self.send_as(bot, found.room_id, text)

    # -- the dispatcher ----------------------------------------------------------------------------------
    async def start(self) -> None:
        resolver = _CheckedResolver(self.allowed)
        connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, limit=20)
        self._http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        self._tasks = [asyncio.create_task(self._loop(self.match_once), name="webhook-match"),
                       asyncio.create_task(self._loop(self.deliver_once), name="webhook-deliver"),
                       asyncio.create_task(self._prune_loop(), name="webhook-log-prune")]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _loop(self, step: Any) -> None:
        while True:
            try:
                busy = await step()
            except asyncio.CancelledError:
                raise
            except Unavailable as exc:  # the database is away: try again later
                log.warning("webhook dispatcher waiting for the database: %s", exc.message)
                busy = False
            except Exception:  # a bug: said in full, and the loop goes on
                log.exception("webhook dispatcher step failed")
                busy = False
            if not busy:
                await asyncio.sleep(self.poll_s)

    async def _prune_loop(self) -> None:
        while True:
            try:
                await self.prune_once()
            except asyncio.CancelledError:
                raise
            except Unavailable as exc:
                log.warning("webhook log pruning waiting for the database: %s", exc.message)
            except Exception:
                log.exception("webhook log pruning failed")
            await asyncio.sleep(PRUNE_EVERY_S)

    async def prune_once(self) -> int:
        """Drop finished deliveries (done or failed) older than the log's days, a batch per
        transaction; pending ones stay whatever their age. The number dropped."""
        before, dropped = self.deps.clock() - self.log_ms, 0
        while True:
            async with self.deps.db.write() as conn:
                count = await store.prune(conn, before, PRUNE_BATCH)
            dropped += count
            if count < PRUNE_BATCH:
                return dropped

    async def match_once(self) -> bool:
        """Match the events above every cursor; True when there was something to do."""
        async with self.deps.db.read() as conn:
            behind = await store.pending_events(conn, 200)
            plans = []
            for room_id, cursor, found in behind:
                direct, hooks, commands = await store.room_hooks(conn, room_id)
                plans.append((room_id, cursor, found, direct, hooks, commands))
        now = self.deps.clock()
        for room_id, cursor, found, direct, hooks, commands in plans:
            if not found:
                continue
            rows = []
            for event in found:
                if event.type is not EventType.MESSAGE:
                    continue
                text = event.data.get("text") or ""
                sender_id = None if event.sender is None else event.sender["id"]
                for hook in hooks:
                    kind = rules.matches(hook, room_id=room_id, direct=direct, sender_id=sender_id,
                                         mentions=event.data.get("mentions") or [], text=text,
                                         commands=commands.get(hook.bot_id, frozenset()))
                    if kind is None:
                        continue
                    payload: dict[str, Any] = {"type": kind, "webhook": hook.id, "bot": hook.bot_id,
                                               "room": room_id, "direct": direct, "event": event.wire()}
                    if kind == "command":
                        name, args = rules.parse_command(text) or ("", "")
                        payload["command"] = {"name": name, "args": args}
                    rows.append({"webhook_id": hook.id, "room_id": room_id, "seq": event.seq, "kind": kind,
                                 "body": orjson.dumps(payload).decode(), "state": "pending", "attempts": 0,
                                 "next_at": now, "created_at": now, "updated_at": now})
            async with self.deps.db.write() as conn:
                moved = await store.advance_cursor(conn, room_id, cursor, found[-1].seq)
                if moved:
                    await store.enqueue(conn, rows)
            if moved:
                for handler in self._listeners:
                    try:
                        await handler(room_id, direct, found)
                    except Exception:  # a listener's bug never stops the webhooks
                        log.exception("an in-process bot listener failed in room %s", room_id)
        if any(p[2] for p in plans):
            self._wake.set()
        return any(p[2] for p in plans)

    async def deliver_once(self) -> bool:
        now = self.deps.clock()
        async with self.deps.db.read() as conn:
            due = await store.due(conn, now, 20)
        if not due:
            return False
        claimed = []
        lease = now + int(self.timeout_s * 1000) + 30_000
        for delivery_id, next_at in due:
            async with self.deps.db.write() as conn:
                row = await store.claim(conn, delivery_id, next_at, lease)
            if row is not None:
                claimed.append(row)
        await asyncio.gather(*(self._attempt(row) for row in claimed))
        return bool(claimed)

    async def _attempt(self, row: Any) -> None:
        status, error, reply = await self._post(row.url, row.secret, row.body.encode())
        now = self.deps.clock()
        ok = status is not None and 200 <= status < 300
        if ok:
            state, next_at = "done", now
        elif row.attempts >= rules.MAX_ATTEMPTS:
            state, next_at = "failed", now
        else:
            state, next_at = "pending", now + rules.backoff_ms(row.attempts, self.retry_base_ms)
        if ok and reply is not None:
            error = await self._reply(row, reply)
        async with self.deps.db.write() as conn:
            await store.finish(conn, row.id, state=state, status=status, error=error, next_at=next_at, now=now)

    async def _reply(self, row: Any, text: str) -> str | None:
        """A `{"text": ...}` answer is posted back as the bot in the event's room, once per delivery."""
        try:
            bot = await self.bot_user(row.bot_id)
            await self.send_as(bot, row.room_id, text, client_msg_id=f"webhook-{row.id}")
        except ParleyError as exc:
            return f"reply not posted: {exc.message}"[:rules.ERROR_MAX]
        return None

    async def _post(self, url: str, secret: str, body: bytes) -> tuple[int | None, str | None, str | None]:
        """One attempt: (HTTP status or None, error, reply text). Redirects are not followed (a 3xx is
        a failure), so no redirect can lead to an address the check refused."""
        assert self._http is not None
        host = (urlsplit(url).hostname or "").strip("[]")
        with contextlib.suppress(ValueError):  # aiohttp connects to a literal address without resolving it
            if not rules.address_allowed(ipaddress.ip_address(host), self.allowed):
                return None, f"refused: {host} is an address webhooks may not reach", None
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "Parley-Webhook/1",
                   "X-Parley-Timestamp": stamp, "X-Parley-Signature": rules.sign(secret, stamp, body)}
        try:
            async with self._http.post(url, data=body, headers=headers, allow_redirects=False) as response:
                raw = await response.content.read(rules.RESPONSE_MAX)
                status = response.status
        except BlockedAddress as exc:
            return None, f"refused: {exc}"[:rules.ERROR_MAX], None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.__cause__, BlockedAddress) or "may not reach" in str(exc):
                return None, f"refused: {exc}"[:rules.ERROR_MAX], None
            return None, f"could not connect: {exc.strerror or exc}"[:rules.ERROR_MAX], None
        except TimeoutError:
            return None, f"timed out after {self.timeout_s:g} s", None
        except aiohttp.ClientError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:rules.ERROR_MAX], None
        if not 200 <= status < 300:
            return status, f"HTTP {status}", None
        reply = None
        with contextlib.suppress(ValueError):
            answer = orjson.loads(raw) if raw.strip() else None
            if isinstance(answer, dict) and isinstance(answer.get("text"), str) and answer["text"].strip():
                reply = answer["text"]
        return status, None, reply
