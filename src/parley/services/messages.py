"""Sending (grouped into shared transactions), history, read markers and typing."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from parley.core import actions, blocks, permissions, uploads, validation, wire
from parley.core.errors import Forbidden, Invalid, ParleyError, RateLimited, Unauthorized, Unavailable
from parley.core.models import Event, EventType, User
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import actions as action_store
from parley.store import events as event_store
from parley.store import rooms as room_store
from parley.store.events import Draft
from parley.store.messagelog import DuplicateClientMessage, Snapshot

HISTORY_MAX = 100
REVOKED = "the session is unknown, expired or revoked; log in again"
STOPPING = "the server is shutting down; send again once reconnected (with the same client_msg_id)"
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Send:
    user: User
    room_id: int
    data: dict[str, Any]  # the message's fields: {"text": ...}
    client_msg_id: str | None
    session_id: int | None
    future: asyncio.Future[tuple[Event, bool]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> tuple[int, int, str] | None:
        return None if self.client_msg_id is None else (self.room_id, self.user.id, self.client_msg_id)


class Messages:
    def __init__(self, deps: Deps, emitter: Emitter) -> None:
        self.deps = deps
        self.emitter = emitter
        self._pending: list[_Send] = []
        self._flushing: asyncio.Task[None] | None = None
        self._stopping = False

    async def send(self, user: User, room_id: int, text: object, client_msg_id: object = None, *,
                   session_id: int | None = None, attachments: object = None, reply_to: object = None,
                   thread_root: object = None) -> tuple[Event, bool]:
        """Store a message; returns (event, created). A retry of a stored client_msg_id returns the
        original with created=False. Concurrent sends share one transaction."""
        return await (await self.submit(user, room_id, text, client_msg_id, session_id=session_id,
                                        attachments=attachments, reply_to=reply_to, thread_root=thread_root))

    async def submit(self, user: User, room_id: int, text: object, client_msg_id: object = None, *,
                     session_id: int | None = None, attachments: object = None, reply_to: object = None,
                     thread_root: object = None) -> asyncio.Future[tuple[Event, bool]]:
        """Validate and queue a message; the future settles once its batch has committed.

        With `session_id` (every client's send) the batch refuses the message with Unauthorized
        unless that session still exists, read in the batch's own transaction: nothing is stored
        from a session whose revocation committed first. None is for in-process callers.
        `reply_to` / `thread_root` (seqs) are checked in the batch against the room's log, and
        `attachments` (upload ids) against the uploads; the batch swaps in the upload objects."""
        if attachments is None or text not in (None, ""):
            clean = validation.message_text(text, self.deps.limits.max_text)
        else:
            clean = ""
        cmid = validation.client_msg_id(client_msg_id)
        data: dict[str, Any] = {"text": clean}
        if attachments is not None:
            data["attachments"] = uploads.attachment_ids(attachments)
        if reply_to is not None:
            data["reply_to"] = validation.positive_int(reply_to, "reply_to")
        if thread_root is not None:
            data["thread_root"] = validation.positive_int(thread_root, "thread_root")
        wait = await self.deps.bus.hit(f"send:{user.id}", self.deps.limits.send_rate)
        if wait:
            raise RateLimited(f"sending too fast; retry in {wait:.1f} s", wait)
        if self._stopping:  # checked after the last await: nothing is queued once stop() began
            raise Unavailable(STOPPING)
        request = _Send(user, room_id, data, cmid, session_id)
        self._pending.append(request)
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_loop())
        return request.future

    async def stop(self) -> None:
        """Shutdown: refuse every new send with `unavailable`, and return once each one already
        queued is committed (or refused) and its future settled, so that its sender is answered."""
        self._stopping = True
        while self._flushing is not None:
            await asyncio.shield(self._flushing)

    async def _flush_loop(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.deps.limits.batch_max]
                del self._pending[: len(batch)]
                try:
                    await self._flush(batch)
                except Exception:  # answered already; the next batch must still be written
                    log.exception("a batch of %d messages failed", len(batch))
        finally:
            self._flushing = None

    async def _flush(self, batch: list[_Send]) -> None:
        try:
            stored = await self._write(batch)
        except DuplicateClientMessage:
            # Another node stored one of these client_msg_ids meanwhile: go one by one.
            for request in batch:
                await self._flush_one(request)
            return
        except Exception as exc:  # an outage or a fault must not leave senders waiting forever
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            if not isinstance(exc, ParleyError):
                raise
            return
        await self.emitter.room_events(stored)

    async def _flush_one(self, request: _Send) -> None:
        try:
            stored = await self._write([request])
        except Exception as exc:
            if not request.future.done():
                request.future.set_exception(exc)
            return
        await self.emitter.room_events(stored)

    async def _write(self, batch: list[_Send]) -> list[Event]:
        """Store a batch in one transaction, then settle each request. Returns the new events."""
        plan = _Plan(batch)
        now = self.deps.clock()
        drafts = [Draft(r.room_id, r.user.id, EventType.MESSAGE, r.data, r.client_msg_id, r.session_id)
                  for r in batch]
        snapshot, stored = await self.deps.db.messages.append(drafts, plan.decide, now)
        return plan.settle(stored, now, snapshot.resolved)

    async def history(self, user: User, room_id: int, *, before: int | None = None, after: int | None = None,
                      around: int | None = None, limit: int = 50) -> dict[str, Any]:
        if sum(x is not None for x in (before, after, around)) > 1:
            raise Invalid("give one of before, after and around")
        limit = max(1, min(limit, HISTORY_MAX))
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            room = permissions.require_reader(room, await room_store.membership(conn, room_id, user.id))
            if around is not None:
                return await self._around(conn, room, around, limit)
            if after is not None:
                page = await event_store.after(conn, room_id, after, limit + 1)
                has_more, page = len(page) > limit, page[:limit]
            else:
                page = await event_store.before(conn, room_id, before, limit + 1)
                has_more, page = len(page) > limit, page[-limit:]
            views = [e.wire() for e in page]
            await action_store.decorate(conn, room_id, user.id, views)  # reactions, pins, threads, replies
        return {"messages": views, "has_more": has_more, "last_seq": room.last_seq}

    @staticmethod
    async def _around(conn: Any, room: Any, seq: int, limit: int) -> dict[str, Any]:
        """A page centred on `seq` (search and replies jump there): limit // 2 events before it and
        the rest from it on, or more before it near the end of the log. `has_more` is about older events, as on every page; `has_more_after`
        says whether newer ones follow the page."""
        older = await event_store.before(conn, room.id, seq, limit + 1)
        newer = await event_store.after(conn, room.id, seq - 1, limit + 1)
        n_old = min(len(older), max(limit // 2, limit - len(newer)))  # near the end: more older ones
        n_new = min(len(newer), limit - n_old)
        has_more, has_after = len(older) > n_old, len(newer) > n_new
        older, newer = older[len(older) - n_old:], newer[:n_new]
        return {"messages": [e.wire() for e in older + newer], "has_more": has_more,
                "has_more_after": has_after, "last_seq": room.last_seq}

    async def replay(self, room_id: int, after: int, limit: int = 500) -> list[Event]:
        """Events after a cursor, for a caller that has checked membership (the realtime hub)."""
        async with self.deps.db.read() as conn:
            return await event_store.after(conn, room_id, after, limit)

    async def mark_read(self, user: User, room_id: int, seq: object) -> int:
        """Move the read marker forward. A marker that does not move writes nothing and tells no one:
        a client repeating `read` costs one read query, never a write or a broadcast to the room."""
        wanted = validation.positive_int(seq, "seq")
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            membership = await room_store.membership(conn, room_id, user.id)
            room = permissions.require_reader(room, membership)
        assert membership is not None  # require_reader refuses non-members
        if min(wanted, room.last_seq) <= membership.read_seq:
            return membership.read_seq
        async with self.deps.db.write() as conn:
            room = await room_store.get(conn, room_id)
            room = permissions.require_reader(room, await room_store.membership(conn, room_id, user.id))
            stored, moved = await room_store.advance_read(conn, room_id, user.id, min(wanted, room.last_seq))
        if moved:
            await self.emitter.ephemeral(room_id, user.id, wire.ReadFrame(room=room_id, user=user.id, seq=stored))
        return stored

    async def typing(self, user: User, room_id: int) -> None:
        if await self.deps.bus.hit(f"typing:{user.id}", self.deps.limits.typing_rate):
            raise RateLimited("typing notices are limited to one a second", 1.0)
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            permissions.require_poster(room, await room_store.membership(conn, room_id, user.id))
        await self.emitter.ephemeral(room_id, user.id, wire.TypingFrame(room=room_id, user=wire.public(user)))


class _Plan:
    """The decision about each request of a batch, taken inside the batch's transaction from what
    it read there (pure: on SQLite it runs on the writer thread), and settled after the commit."""

    def __init__(self, batch: list[_Send]) -> None:
        self.batch = batch
        self.outcomes: list[tuple[Event, bool] | ParleyError | None] = [None] * len(batch)
        self.dup_of: dict[int, int] = {}

    def decide(self, snapshot: Snapshot) -> list[int]:
        chosen: list[int] = []
        first_of: dict[tuple[int, int, str], int] = {}
        attached: set[int] = set()
        for i, request in enumerate(self.batch):
            if request.session_id is not None and request.session_id not in snapshot.live_sessions:
                self.outcomes[i] = Unauthorized(REVOKED)
                continue
            key = request.key
            if key is not None and key in snapshot.existing:
                # A retry returns the original even if the room has been archived or left since.
                self.outcomes[i] = (snapshot.existing[key], False)
                continue
            try:
                permissions.require_poster(snapshot.rooms.get(request.room_id),
                                           snapshot.memberships.get((request.room_id, request.user.id)))
            except ParleyError as exc:
                self.outcomes[i] = exc
                continue
            if (request.room_id, request.user.id) in snapshot.blocked:
                self.outcomes[i] = Forbidden(blocks.NO_DIRECT_SEND)
                continue
            if "reply_to" in request.data or "thread_root" in request.data:  # what it names must stand
                problem = actions.reference_error(request.data.get("reply_to"), request.data.get("thread_root"), {
                    seq: found for (room, seq), found in snapshot.targets.items() if room == request.room_id})
                if problem:
                    self.outcomes[i] = Invalid(problem)
                    continue
            if key is not None and key in first_of:
                self.dup_of[i] = first_of[key]
                continue
            if "attachments" in request.data:
                problem = self._attachment_problem(request, snapshot, attached)
                if problem is not None:
                    self.outcomes[i] = Invalid(problem)
                    continue
            if key is not None:
                first_of[key] = i
            chosen.append(i)
        return chosen

    @staticmethod
    def _attachment_problem(request: _Send, snapshot: Snapshot, attached: set[int]) -> str | None:
        """Why the message cannot carry its attachments; None when it can (they are then taken)."""
        ids = request.data["attachments"]
        for upload_id in ids:
            problem = uploads.attachment_problem(snapshot.uploads.get(upload_id), request.room_id,
                                                 request.user.id, attached)
            if problem is not None:
                return problem
        attached.update(ids)
        return None

    def settle(self, stored: dict[int, tuple[int, int]], now: int, resolved: dict[int, dict[str, Any]]) -> list[Event]:
        """Resolve every request's future; returns the new events in commit order."""
        events: list[Event] = []
        for i, (event_id, seq) in sorted(stored.items(), key=lambda item: (self.batch[item[0]].room_id, item[1][1])):
            request = self.batch[i]
            event = Event(event_id, request.room_id, seq, EventType.MESSAGE, now, request.user.public(),
                          {**request.data, **resolved[i]} if i in resolved else request.data,
                          request.client_msg_id)
            self.outcomes[i] = (event, True)
            events.append(event)
        for i, first in self.dup_of.items():
            original = self.outcomes[first]
            self.outcomes[i] = (original[0], False) if isinstance(original, tuple) else original
        for request, outcome in zip(self.batch, self.outcomes, strict=True):
            if isinstance(outcome, ParleyError):
                request.future.set_exception(outcome)
            elif outcome is not None:
                request.future.set_result(outcome)
        return events
