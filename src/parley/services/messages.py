"""Sending (grouped into shared transactions), history, read markers and typing."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import permissions, validation
from parley.core.errors import Invalid, ParleyError, RateLimited
from parley.core.models import Event, EventType, User
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import events as event_store
from parley.store import rooms as room_store

HISTORY_MAX = 100


@dataclass(slots=True)
class _Send:
    user: User
    room_id: int
    text: str
    client_msg_id: str | None
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

    async def send(self, user: User, room_id: int, text: object, client_msg_id: object = None) -> tuple[Event, bool]:
        """Store a message; returns (event, created). A retry of a stored client_msg_id returns the
        original with created=False. Concurrent sends share one transaction."""
        return await (await self.submit(user, room_id, text, client_msg_id))

    async def submit(self, user: User, room_id: int, text: object,
                     client_msg_id: object = None) -> asyncio.Future[tuple[Event, bool]]:
        """Validate and queue a message; the future settles once its batch has committed."""
        clean = validation.message_text(text, self.deps.limits.max_text)
        cmid = validation.client_msg_id(client_msg_id)
        wait = await self.deps.bus.hit(f"send:{user.id}", self.deps.limits.send_rate)
        if wait:
            raise RateLimited(f"sending too fast; retry in {wait:.1f} s", wait)
        request = _Send(user, room_id, clean, cmid)
        self._pending.append(request)
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_loop())
        return request.future

    async def _flush_loop(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.deps.limits.batch_max]
                del self._pending[: len(batch)]
                await self._flush(batch)
        finally:
            self._flushing = None

    async def _flush(self, batch: list[_Send]) -> None:
        try:
            stored = await self._write(batch)
        except sa.exc.IntegrityError:
            # Another node stored one of these client_msg_ids meanwhile: go one by one.
            for request in batch:
                await self._flush_one(request)
            return
        except ParleyError as exc:
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        except Exception as exc:  # an unexpected fault must not leave senders waiting forever
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            raise
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
        outcomes: list[tuple[Event, bool] | ParleyError | None] = [None] * len(batch)
        async with self.deps.db.write() as conn:
            by_room, dup_of = await self._screen(conn, batch, outcomes)
            stored = await self._store(conn, batch, by_room)
        for index, event in stored:
            outcomes[index] = (event, True)
        for index, first in dup_of.items():
            original = outcomes[first]
            outcomes[index] = (original[0], False) if isinstance(original, tuple) else original
        for request, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, ParleyError):
                request.future.set_exception(outcome)
            elif outcome is not None:
                request.future.set_result(outcome)
        return [event for _, event in stored]

    async def _screen(self, conn: AsyncConnection, batch: list[_Send],
                      outcomes: list[tuple[Event, bool] | ParleyError | None]
                      ) -> tuple[dict[int, list[int]], dict[int, int]]:
        """Check permissions and idempotency for the batch. Returns the indexes to store, by room,
        and the in-batch repeats of a client_msg_id (index -> index of the first)."""
        # Locking the rooms first orders this batch after any archive or leave in flight, so no
        # message lands after its room closed or its sender left (PostgreSQL; SQLite has one writer).
        rooms = await room_store.get_many(conn, {r.room_id for r in batch}, lock=True)
        memberships = await room_store.memberships(conn, [(r.room_id, r.user.id) for r in batch])
        existing = await event_store.by_client_ids(conn, [r.key for r in batch if r.key is not None])
        by_room: dict[int, list[int]] = defaultdict(list)
        first_of: dict[tuple[int, int, str], int] = {}
        dup_of: dict[int, int] = {}
        for i, request in enumerate(batch):
            key = request.key
            if key is not None and key in existing:
                # A retry returns the original even if the room has been archived or left since.
                outcomes[i] = (existing[key], False)
                continue
            try:
                permissions.require_poster(rooms.get(request.room_id),
                                           memberships.get((request.room_id, request.user.id)))
            except ParleyError as exc:
                outcomes[i] = exc
                continue
            if key is not None and key in first_of:
                dup_of[i] = first_of[key]
            else:
                if key is not None:
                    first_of[key] = i
                by_room[request.room_id].append(i)
        return by_room, dup_of

    async def _store(self, conn: AsyncConnection, batch: list[_Send],
                     by_room: dict[int, list[int]]) -> list[tuple[int, Event]]:
        now = self.deps.clock()
        placed: list[tuple[int, int]] = []  # (batch index, seq)
        # Rooms are locked in id order so that two nodes' batches cannot deadlock.
        for room_id in sorted(by_room):
            indexes = by_room[room_id]
            last = await room_store.allocate_seqs(conn, room_id, len(indexes))
            placed += [(i, last - len(indexes) + 1 + k) for k, i in enumerate(indexes)]
        rows = [event_store.row_for(batch[i].room_id, seq, EventType.MESSAGE, now, batch[i].user.id,
                                    text=batch[i].text, client_msg_id=batch[i].client_msg_id)
                for i, seq in placed]
        ids = await event_store.insert(conn, rows)
        return [(i, Event(eid, batch[i].room_id, seq, EventType.MESSAGE, now, batch[i].user.public(),
                          {"text": batch[i].text}, batch[i].client_msg_id))
                for eid, (i, seq) in zip(ids, placed, strict=True)]

    async def history(self, user: User, room_id: int, *, before: int | None = None, after: int | None = None,
                      limit: int = 50) -> dict[str, Any]:
        if before is not None and after is not None:
            raise Invalid("give before or after, not both")
        limit = max(1, min(limit, HISTORY_MAX))
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            room = permissions.require_reader(room, await room_store.membership(conn, room_id, user.id))
            if after is not None:
                page = await event_store.after(conn, room_id, after, limit + 1)
                has_more, page = len(page) > limit, page[:limit]
            else:
                page = await event_store.before(conn, room_id, before, limit + 1)
                has_more, page = len(page) > limit, page[-limit:]
        return {"messages": [e.wire() for e in page], "has_more": has_more, "last_seq": room.last_seq}

    async def replay(self, room_id: int, after: int, limit: int = 500) -> list[Event]:
        """Events after a cursor, for a caller that has checked membership (the realtime hub)."""
        async with self.deps.db.read() as conn:
            return await event_store.after(conn, room_id, after, limit)

    async def mark_read(self, user: User, room_id: int, seq: object) -> int:
        wanted = validation.positive_int(seq, "seq")
        async with self.deps.db.write() as conn:
            room = await room_store.get(conn, room_id)
            room = permissions.require_reader(room, await room_store.membership(conn, room_id, user.id))
            stored = await room_store.advance_read(conn, room_id, user.id, min(wanted, room.last_seq))
        await self.emitter.ephemeral(room_id, user.id, {"type": "read", "room": room_id, "user": user.id,
                                                        "seq": stored})
        return stored

    async def typing(self, user: User, room_id: int) -> None:
        if await self.deps.bus.hit(f"typing:{user.id}", self.deps.limits.typing_rate):
            raise RateLimited("typing notices are limited to one a second", 1.0)
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            permissions.require_poster(room, await room_store.membership(conn, room_id, user.id))
        await self.emitter.ephemeral(room_id, user.id, {"type": "typing", "room": room_id, "user": user.public()})
