"""Sending (grouped into shared transactions), history, read markers and typing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parley.core import actions, blocks, metrics, moderation, permissions, spam, uploads, validation, wire
from parley.core.errors import (
    Forbidden,
    Invalid,
    ParleyError,
    RateLimited,
    SpamRejected,
    Unauthorized,
    Unavailable,
)
from parley.core.models import Event, EventType, Membership, Room, RoomKind, User
from parley.core.ratelimit import Rate
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.services.spam import Spam
from parley.store import blocks as block_store
from parley.store import events as event_store
from parley.store import history as history_store
from parley.store import rooms as room_store
from parley.store.events import Draft
from parley.store.messagelog import DuplicateClientMessage, Snapshot

HISTORY_MAX = 100
REVOKED = "the session is unknown, expired or revoked; log in again"
REFUSED = "the spam filter refused this message; if it is not spam, ask a moderator of the room"
STOPPING = "the server is shutting down; send again once reconnected (with the same client_msg_id)"
log = logging.getLogger(__name__)


Sent = Event | spam.Held  # a stored message, or one the spam filter held for review


@dataclass(slots=True)
class _Send:
    user: User
    room_id: int
    data: dict[str, Any]  # the message's fields: {"text": ...}
    client_msg_id: str | None
    session_id: int | None
    slowed: bool = False  # moderation: took its slow-mode token already (see Messages._slow_down)
    screened: bool = False  # a held message a moderator approved: not scored again
    prepared: str = ""  # the spam filter's `prepare`d text, once the batch has made it
    future: asyncio.Future[tuple[Sent, bool]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> tuple[int, int, str] | None:
        return None if self.client_msg_id is None else (self.room_id, self.user.id, self.client_msg_id)



Scorer = Callable[[list[_Send]], list[spam.Score]]  # the spam filter's scores of a batch's messages

class Messages:
    def __init__(self, deps: Deps, emitter: Emitter, spam_filter: Spam | None = None) -> None:
        self.deps = deps
        self.emitter = emitter
        self.spam = spam_filter
        self._pending: list[_Send] = []
        self._flushing: asyncio.Task[None] | None = None
        self._stopping = False

    async def send(self, user: User, room_id: int, text: object, client_msg_id: object = None, *,
                   session_id: int | None = None, attachments: object = None, reply_to: object = None,
                   thread_root: object = None) -> tuple[Sent, bool]:
        """Store a message; returns (event, created). A retry of a stored client_msg_id returns the
        original with created=False. Concurrent sends share one transaction. A message the spam
        filter holds for review returns (Held, True) instead; one it refuses raises SpamRejected."""
        return await (await self.submit(user, room_id, text, client_msg_id, session_id=session_id,
                                        attachments=attachments, reply_to=reply_to, thread_root=thread_root))

    async def submit(self, user: User, room_id: int, text: object, client_msg_id: object = None, *,
                     session_id: int | None = None, attachments: object = None, reply_to: object = None,
                     thread_root: object = None) -> asyncio.Future[tuple[Sent, bool]]:
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
        limits = self.deps.limits
        wait = await self.deps.bus.hit(f"send:{user.id}", limits.bot_send_rate if user.bot and not user.server_bot else limits.send_rate)
        if wait:
            raise RateLimited(f"sending too fast; retry in {wait:.1f} s", wait)
        if self._stopping:  # checked after the last await: nothing is queued once stop() began
            raise Unavailable(STOPPING)
        return self._queue(_Send(user, room_id, data, cmid, session_id))

    def _queue(self, request: _Send) -> asyncio.Future[tuple[Sent, bool]]:
        self._pending.append(request)
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_loop())
        return request.future

    async def deliver_held(self, sender: User, held: spam.Held) -> Event:
        """Send a held message a moderator approved, through the batch like any other (the next seq
        of its room, delivered in order), without scoring it again. Its client_msg_id (or one made
        from the held id) makes a second approval return the same event."""
        if self._stopping:
            raise Unavailable(STOPPING)
        request = _Send(sender, held.room_id, dict(held.data), held.client_msg_id or f"held-{held.id}", None,
                        screened=True)
        event, _ = await self._queue(request)
        assert isinstance(event, Event)
        return event

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
        now = self.deps.clock()
        seen = await self._seen(batch)
        plan = _Plan(batch, now, await self._scorer(now, seen), self.spam.policy if self.spam else None)
        drafts = [Draft(r.room_id, r.user.id, EventType.MESSAGE, r.data, r.client_msg_id, r.session_id)
                  for r in batch]
        started = time.perf_counter()
        snapshot, stored = await self.deps.db.messages.append(drafts, plan.decide, now)
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
        metrics.BATCH_SIZE.observe(len(batch))
        events = plan.place(stored, now, snapshot.resolved)
        metrics.COUNTS.sends += len(events)
        if self.spam is not None and plan.verdicts:
            self.spam.count(plan.verdicts)
        if plan.held:
            await self._hold(plan)
        plan.finish()
        if seen is not None and seen.noted:  # after the senders are answered: it delays no ack
            await self._posted(seen)
        if plan.deferred:
            await self._slow_down(plan.deferred)
        return events

    async def _slow_down(self, deferred: list[tuple[_Send, int]]) -> None:
        """Sends the batch held back for a room's slow mode (only rooms with it on, and only their
        members below moderator, ever come here): each takes its token from the room's bucket for
        its sender, shared by every node through the bus, and is queued again to be stored, or is
        refused with how long to wait."""
        for request, slow_mode_s in deferred:
            wait = await self.deps.bus.hit(f"slow:{request.room_id}:{request.user.id}", Rate(1, 1 / slow_mode_s))
            if wait:
                request.future.set_exception(moderation.slow_mode_refusal(wait, slow_mode_s))
            else:
                request.slowed = True
                self._pending.append(request)

    async def _seen(self, batch: list[_Send]) -> spam.Seen | None:
        """The cross-room signal for the batch, read from the bus before its transaction (every
        node's posts of the same texts), for the messages the filter may score; None when off."""
        if self.spam is None or not self.spam.enabled:
            return None
        keys = []
        for request in batch:
            if not request.screened and request.data["text"] and not (request.user.is_admin or request.user.server_bot):
                request.prepared = spam.prepare(request.data["text"])
                keys.append(spam.text_key(request.user.id, request.prepared))
        if not keys:
            return spam.Seen()
        try:
            return await self.spam.seen(keys)
        except Exception:  # an outage of the shared state must not stop sending: this batch alone
            log.warning("could not read the cross-room spam signal", exc_info=True)
            return spam.Seen()

    async def _posted(self, seen: spam.Seen) -> None:
        assert self.spam is not None
        try:
            await self.spam.posted(seen)
        except Exception:
            log.warning("could not record the cross-room spam signal", exc_info=True)

    async def _scorer(self, now: int, seen: spam.Seen | None) -> Scorer | None:
        """What scores a batch's messages with the filter on (the model is loaded at startup, so
        this never waits for it there); None with the filter off. The plan calls it once per batch,
        in the transaction, with only the messages it would store from senders it does not exempt."""
        if self.spam is None or not self.spam.enabled:
            return None
        await self.spam.ready()
        spam_filter = self.spam

        def scorer(requests: list[_Send]) -> list[spam.Score]:
            return spam_filter.score([spam.Candidate(r.data["text"], r.user.id, r.room_id, now - r.user.created_at,
                                                     r.prepared) for r in requests], seen)
        return scorer

    async def _hold(self, plan: _Plan) -> None:
        assert self.spam is not None
        rows = [{"room_id": r.room_id, "sender_id": r.user.id, "client_msg_id": r.client_msg_id, "data": r.data,
                 "score": score.value, "reasons": score.reasons}
                for r, score in ((plan.batch[i], plan.scores[i]) for i in plan.held) if score is not None]
        try:
            held = await self.spam.hold(rows)
        except Exception as exc:  # nothing of these was stored: their senders may send again
            log.exception("could not store %d held messages", len(rows))
            error = exc if isinstance(exc, ParleyError) else Unavailable("the message could not be stored; retry")
            for i in plan.held:
                plan.outcomes[i] = error
            return
        for i, h in zip(plan.held, held, strict=True):
            plan.outcomes[i] = (h, True)

    async def history(self, user: User, room_id: int, *, before: int | None = None, after: int | None = None,
                      around: int | None = None, limit: int = 50) -> dict[str, Any]:
        """A page of the room's log for one reader (store/history.py reads it in one call): the
        latest, or `before` / `after` a seq, or `around` one. A member who left reads up to their
        leave (undecorated); anyone else who is not joined finds no room."""
        if sum(x is not None for x in (before, after, around)) > 1:
            raise Invalid("give one of before, after and around")
        limit = max(1, min(limit, HISTORY_MAX))

        def choose(room: Room | None, membership: Membership | None, left: int) -> history_store.Window:
            _, upto = permissions.require_history(room, membership, left)
            if around is not None:
                seq = around if upto is None else min(around, upto)
                return history_store.Window(upto, (seq, limit + 1), (seq - 1, limit + 1), decorate=upto is None)
            if after is not None:
                return history_store.Window(upto, newer=(after, limit + 1), decorate=upto is None)
            below = before
            if upto is not None:  # a former member: nothing after their leave
                below = upto + 1 if below is None else min(below, upto + 1)
            return history_store.Window(upto, older=(below, limit + 1), decorate=upto is None)

        rows = await self.deps.db.history.page(room_id, user.id, choose)
        if around is not None:
            page = _around(rows, limit)
        elif after is not None:
            page = {"messages": history_store.views(rows.newer[:limit], rows.decorations),
                    "has_more": len(rows.newer) > limit, "last_seq": rows.room.last_seq}
        else:
            page = {"messages": history_store.views(rows.older[-limit:], rows.decorations),
                    "has_more": len(rows.older) > limit, "last_seq": rows.room.last_seq}
        return _former(page, rows.room, rows.membership, rows.upto)

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
            membership = await room_store.membership(conn, room_id, user.id)
            room = permissions.require_poster(room, membership)
            if room.kind is RoomKind.DIRECT and await block_store.blocked_in_room(conn, room_id, user.id):
                raise Forbidden(blocks.NO_DIRECT_ACT)  # blocked: typing is refused as sending is
        assert membership is not None
        moderation.require_sender(room, membership, self.deps.clock())  # a muted member types nothing
        await self.emitter.ephemeral(room_id, user.id, wire.TypingFrame(room=room_id, user=wire.public(user)))


def _around(rows: history_store.PageRows, limit: int) -> dict[str, Any]:
    """A page centred on a seq (search and replies jump there): limit // 2 events before it and the
    rest from it on, or more before it near the end of the log. `has_more` is about older events, as
    on every page; `has_more_after` says whether newer ones follow the page."""
    older, newer = rows.older, rows.newer
    n_old = min(len(older), max(limit // 2, limit - len(newer)))  # near the end: more older ones
    n_new = min(len(newer), limit - n_old)
    return {"messages": history_store.views(older[len(older) - n_old:] + newer[:n_new], rows.decorations),
            "has_more": len(older) > n_old, "has_more_after": len(newer) > n_new, "last_seq": rows.room.last_seq}


def _former(page: dict[str, Any], room: Any, membership: Any, upto: int | None) -> dict[str, Any]:
    """A former member's page ends at their leave, and says so: `last_seq` is the leave (nothing
    of what came after, not even how much), `former` names the room and whether they may join."""
    if upto is None:
        return page
    page["last_seq"] = upto
    page["former"] = {"left_seq": upto, "name": room.name, "kind": room.kind.value,
                      "can_join": permissions.can_join(room, membership)}
    return page


class _Plan:
    """The decision about each request of a batch, taken inside the batch's transaction from what
    it read there (pure: on SQLite it runs on the writer thread), and settled after the commit."""

    def __init__(self, batch: list[_Send], now: int, scorer: Scorer | None = None,
                 policy: spam.Policy | None = None) -> None:
        self.batch = batch
        self.now = now
        self.deferred: list[tuple[_Send, int]] = []  # (request, the room's slow_mode_s)
        self.outcomes: list[tuple[Sent, bool] | ParleyError | None] = [None] * len(batch)
        self.dup_of: dict[int, int] = {}
        self.scorer = scorer
        self.scores: list[spam.Score | None] = [None] * len(batch)
        self.policy = policy
        self.held: list[int] = []  # indexes the spam filter holds for review
        self.verdicts: Counter[str] = Counter()  # the spam filter's verdicts on the scored ones

    def decide(self, snapshot: Snapshot) -> list[int]:
        chosen: list[int] = []
        to_score: list[int] = []  # of chosen: what the spam filter scores
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
            membership = snapshot.memberships.get((request.room_id, request.user.id))
            try:
                room = permissions.require_poster(snapshot.rooms.get(request.room_id), membership)
                assert membership is not None
                moderation.require_sender(room, membership, self.now)  # muted; an announcement room
            except ParleyError as exc:
                self.outcomes[i] = exc
                continue
            if (request.room_id, request.user.id) in snapshot.blocked:
                self.outcomes[i] = Forbidden(blocks.NO_DIRECT_SEND)
                continue
            if not request.slowed and moderation.slowed(room, membership):
                self.deferred.append((request, room.slow_mode_s))  # stored, or not, once it has a token
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
            if self._scored(request, membership):
                to_score.append(i)
        return self._screen(chosen, to_score)

    def _scored(self, request: _Send, membership: Any) -> bool:
        """Whether the spam filter scores this message: not when it is off, not a held message a
        moderator approved, not one without text, never from the room's moderators and up, from a
        server admin, nor from the server's own bot (the support assistant)."""
        return (self.scorer is not None and self.policy is not None and not request.screened
                and bool(request.data["text"])
                and not spam.exempt(request.user.is_admin or request.user.server_bot, membership))

    def _screen(self, chosen: list[int], to_score: list[int]) -> list[int]:
        """Score the messages that would be stored (one featurize call for the batch) and keep those
        the filter delivers; the held ones go to `held`, the refused ones are answered `spam`."""
        if not to_score:
            return chosen
        assert self.scorer is not None and self.policy is not None
        found = self.scorer([self.batch[i] for i in to_score])
        dropped: set[int] = set()
        for i, score in zip(to_score, found, strict=True):
            self.scores[i] = score
            verdict = score.verdict(self.policy)
            self.verdicts[verdict.value] += 1
            if verdict is spam.Verdict.REJECT:
                self.outcomes[i] = SpamRejected(REFUSED)
                dropped.add(i)
            elif verdict is spam.Verdict.HOLD:
                self.held.append(i)
                dropped.add(i)
        return [i for i in chosen if i not in dropped] if dropped else chosen

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

    def place(self, stored: dict[int, tuple[int, int]], now: int, resolved: dict[int, dict[str, Any]]) -> list[Event]:
        """The outcome of each stored request; returns the new events in commit order."""
        events: list[Event] = []
        for i, (event_id, seq) in sorted(stored.items(), key=lambda item: (self.batch[item[0]].room_id, item[1][1])):
            request = self.batch[i]
            event = Event(event_id, request.room_id, seq, EventType.MESSAGE, now, request.user.public(),
                          {**request.data, **resolved[i]} if i in resolved else request.data,
                          request.client_msg_id)
            self.outcomes[i] = (event, True)
            events.append(event)
        return events

    def finish(self) -> None:
        """Resolve every request's future (once the held ones have their outcome too)."""
        for i, first in self.dup_of.items():
            original = self.outcomes[first]
            self.outcomes[i] = (original[0], False) if isinstance(original, tuple) else original
        for request, outcome in zip(self.batch, self.outcomes, strict=True):
            if isinstance(outcome, ParleyError):
                request.future.set_exception(outcome)
            elif outcome is not None:
                request.future.set_result(outcome)
