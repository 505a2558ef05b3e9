"""The spam filter: scoring each send batch, the held-for-review queue, learning from moderators.

The model lives in the database (store/spam.py) with a version: every node scores with the
version it loaded and checks for a newer one at most every REFRESH_MS; learning (a moderator's
approval or rejection, a report upheld or dismissed) steps the model locked in its row and saves
the next version. A database without a model gets the one trained on the starter set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from parley.core import admin as admin_rules
from parley.core import metrics, spam, wire
from parley.core.errors import Forbidden, NotFound, RateLimited
from parley.core.models import Event, MemberState, User
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import admin as admin_store
from parley.store import audit as audit_store
from parley.store import rooms as room_store
from parley.store import spam as spam_store
from parley.store import users as user_store

if TYPE_CHECKING:
    from parley.services.messages import Messages

_core = spam  # for the methods whose `spam` argument (a bool) hides the module
REFRESH_MS = 5_000
LIST_MAX = 100
MINE_MAX = 200  # a sender's held messages shown again after a reload (the send rate limit bounds them)
REJECTED_SHOWN_MS = 24 * 3600 * 1000  # a rejection decided while the sender was away is told for a day
SETTINGS = "spam_policy"  # its key in server_settings: the thresholds an admin set, for every node
FIGURES_WINDOW_MS = 86_400_000  # the console counts decisions over the last day
NOT_FOUND = "no such held message"
log = logging.getLogger(__name__)


class Spam:
    def __init__(self, deps: Deps, emitter: Emitter, policy: spam.Policy, *, enabled: bool = True) -> None:
        self.deps = deps
        self.emitter = emitter
        self.policy = policy
        self.default_policy = policy  # PARLEY_SPAM_*; an admin's settings (server_settings) override it
        self.enabled = enabled
        self.tally = {"scored": 0, "held": 0, "refused": 0}  # this node's verdicts since it started
        self._heldout: tuple[tuple[int, float], dict[str, Any]] | None = None
        self.model: spam.Model | None = None
        self.recent = spam.Recent(policy.window_ms)
        self.messages: Messages | None = None  # set by the composition root: approval sends through it
        self._checked = 0
        self._loading: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the model ---------------------------------------------------------------------------------

    async def ready(self) -> spam.Model:
        """The model, loaded from the database on first use (or trained from the starter set and
        stored, when the database has none); a newer version is picked up every REFRESH_MS."""
        if self.model is not None:
            now = self.deps.clock()
            if now - self._checked >= REFRESH_MS:
                self._checked = now
                self._spawn(self._refresh())
            return self.model
        self._loading = self._loading or asyncio.Lock()
        async with self._loading:
            if self.model is None:
                self.model = await self._load()
                self._checked = self.deps.clock()
        return self.model

    async def _load(self) -> spam.Model:
        async with self.deps.db.read() as conn:
            found = await spam_store.load_model(conn)
            self.policy = await self._stored_policy(conn)
        if found is None:
            state = spam.starter_state()
            async with self.deps.db.write() as conn:
                await spam_store.create_model(conn, state, self.deps.clock())
                found = await spam_store.load_model(conn)
            assert found is not None
        return spam.Model.load(found[1], found[0])

    async def _refresh(self) -> None:
        try:
            async with self.deps.db.read() as conn:
                self.policy = await self._stored_policy(conn)
                version = await spam_store.model_version(conn)
                if self.model is not None and version is not None and version != self.model.version:
                    found = await spam_store.load_model(conn)
                    if found is not None:
                        self.model = spam.Model.load(found[1], found[0])
        except Exception:  # an outage: keep scoring with the model at hand
            log.warning("could not check for a newer spam model", exc_info=True)

    async def _stored_policy(self, conn: Any) -> spam.Policy:
        stored = await admin_store.setting(conn, SETTINGS)
        return _core.policy_from_settings(self.default_policy, orjson.loads(stored) if stored else None)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def learn(self, texts: Sequence[str], spam: bool) -> int:
        """Teach the shared model that these texts are spam (or not); returns the new version.
        For moderators' decisions: a held message approved or rejected, a report upheld or
        dismissed, a message deleted as spam. Nothing with PARLEY_SPAM=off (returns 0)."""
        if not self.enabled:  # PARLEY_SPAM=off: no model is loaded, kept or taught
            return 0
        texts = [t for t in texts if t.strip()]
        await self.ready()
        if not texts:
            return self.model.version if self.model else 0
        async with self.deps.db.write() as conn:
            found = await spam_store.load_model(conn, lock=True)
            assert found is not None  # ready() stored one
            model = _core.Model.load(found[1], found[0])
            model.learn(texts, spam)
            await spam_store.save_model(conn, found[0], model.dump(), self.deps.clock())
        model.version = found[0] + 1
        self.model = model
        return model.version

    # -- scoring -----------------------------------------------------------------------------------

    def score(self, candidates: Sequence[spam.Candidate], seen: spam.Seen | None = None) -> list[spam.Score]:
        """Scores of a batch's messages (one vectorizer call); `ready()` must have run. `seen`: the
        cross-room signal read from the bus for the batch (`seen()`); without it, this node's view."""
        assert self.model is not None
        return spam.score(self.model, candidates, self.policy, seen or self.recent, self.deps.clock())

    async def seen(self, keys: list[str]) -> spam.Seen:
        """Before a send batch: the rooms each of its (sender, text) keys was posted to lately, on
        every node (one bus round trip)."""
        unique = list(dict.fromkeys(keys))
        rooms = await self.deps.bus.rooms_posted(unique, self.policy.window_ms)
        return spam.Seen(dict(zip(unique, rooms, strict=True)))

    async def posted(self, seen: spam.Seen) -> None:
        """After the batch's commit: record what it scored, for every node (one bus round trip)."""
        if seen.noted:
            await self.deps.bus.note_posted(seen.noted, self.policy.window_ms)

    async def hold(self, rows: list[dict[str, Any]]) -> list[spam.Held]:
        """Store held messages and tell their rooms' reviewers."""
        async with self.deps.db.write() as conn:
            held = await spam_store.hold(conn, rows, self.deps.clock())
            reviewers = await spam_store.reviewers(conn, {h.room_id for h in held})
        for h in held:
            await self.emitter.to_users(sorted(reviewers.get(h.room_id, ())),
                                        wire.HeldAddedFrame(held=spam.held_view(h)))
        return held

    def count(self, verdicts: Mapping[str, int]) -> None:
        """A batch's verdicts (by `spam.Verdict` value), for the console's figures and /metrics."""
        self.tally["scored"] += sum(verdicts.values())
        self.tally["held"] += verdicts.get(spam.Verdict.HOLD, 0)
        self.tally["refused"] += verdicts.get(spam.Verdict.REJECT, 0)
        for decision, n in verdicts.items():
            metrics.SPAM_DECISIONS.labels(decision).inc(n)

    # -- the admin console -------------------------------------------------------------------------

    async def figures(self, actor: User) -> dict[str, Any]:
        """The filter for the console (server admins): its thresholds, its model, the decisions of
        the last day, and the model's precision and recall on the held-out set."""
        admin_rules.require_server_admin(actor)
        now = self.deps.clock()
        async with self.deps.db.read() as conn:
            info = await spam_store.model_info(conn)
            counts = await spam_store.decision_counts(conn, now - FIGURES_WINDOW_MS)
            if self.enabled:
                self.policy = await self._stored_policy(conn)
        answer: dict[str, Any] = {
            "enabled": self.enabled, "thresholds": _core.settings_json(self.policy),
            "model": {"version": info[0] if info else None, "trained_at": info[1] if info else None},
            "decisions": {"window_s": FIGURES_WINDOW_MS // 1000, **counts},
            "node": dict(self.tally), "heldout": None}
        if self.enabled:
            model = await self.ready()
            key = (model.version, self.policy.hold)
            if self._heldout is None or self._heldout[0] != key:
                self._heldout = (key, await asyncio.to_thread(_core.heldout_figures, model, self.policy))
            answer["heldout"] = self._heldout[1]
        return answer

    async def settings(self, actor: User, hold: float | None = None, reject: float | None = None,
                       new_account_s: int | None = None) -> dict[str, Any]:
        """Change the thresholds (and what counts as a new account) for every node; audited
        `spam_settings` in the same transaction. A change to what is already so records nothing."""
        admin_rules.require_server_admin(actor)
        wait = await self.deps.bus.hit(f"admin:{actor.id}", self.deps.limits.action_rate)
        if wait:
            raise RateLimited("administration changes are limited to a few a second", wait)
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            before = await self._stored_policy(conn)
            after = _core.settings_policy(before, hold, reject, new_account_s)
            old, new = _core.settings_json(before), _core.settings_json(after)
            if old != new:
                await admin_store.set_setting(conn, SETTINGS, orjson.dumps(new).decode(), now)
                await audit_store.record(conn, actor_id=actor.id, action="spam_settings", now=now,
                                         data={"from": old, "to": new})
        self.policy = after
        return new

    # -- the queue ---------------------------------------------------------------------------------

    async def list(self, user: User, room_id: int | None, before: int | None = None,
                   limit: int = 50) -> dict[str, Any]:
        """Held messages of one room (its moderators and up, server admins), or of every room the
        user reviews."""
        limit = max(1, min(limit, LIST_MAX))
        async with self.deps.db.read() as conn:
            if room_id is not None:
                await self._require_reviewer(conn, user, room_id)
                rooms: list[int] | None = [room_id]
            else:
                rooms = None if user.is_admin else await spam_store.moderated_rooms(conn, user.id)
            found = await spam_store.of_rooms(conn, rooms, before, limit + 1) if rooms != [] else []
        return {"held": [spam.held_json(h) for h in found[:limit]], "has_more": len(found) > limit}

    async def mine(self, user: User) -> dict[str, Any]:
        """My messages waiting for review, oldest first, in the rooms I am still joined to: the client
        shows them again as "held for review" after a reload. `rejected`: the ids of mine a moderator
        rejected in the last day, so a held copy still on screen after being away says "Not delivered"
        (an approved one arrives as its room event)."""
        async with self.deps.db.read() as conn:
            found = await spam_store.of_sender(conn, user.id, MINE_MAX)
            rooms = {h.room_id for h in found}
            joined = {room for room in rooms if (m := await room_store.membership(conn, room, user.id)) is not None
                      and m.state is MemberState.JOINED}
            rejected = await spam_store.rejected_of(conn, user.id, self.deps.clock() - REJECTED_SHOWN_MS, MINE_MAX)
        return {"held": [spam.held_json(h) for h in found if h.room_id in joined], "rejected": rejected}

    async def approve(self, user: User, held_id: int) -> Event:
        """Send the held message to its room (the next seq, delivered to everyone in order), then
        drop it from the queue, learn it as ham and tell the reviewers and the sender."""
        held = await self._reviewable(user, held_id)
        assert self.messages is not None
        async with self.deps.db.read() as conn:
            found = await user_store.by_id(conn, held.sender_id)
        if found is None:
            raise NotFound(NOT_FOUND)
        event = await self.messages.deliver_held(found[0], held)
        async with self.deps.db.write() as conn:
            if await spam_store.delete(conn, held.id):
                await audit_store.record(conn, actor_id=user.id, action="approve_message", room_id=held.room_id,
                                         target_id=held.sender_id, now=self.deps.clock(),
                                         data={"held": held.id, "seq": event.seq})
        await self._resolved(held, True, event.seq)
        await self.learn([str(held.data.get("text", ""))], False)
        return event

    async def reject(self, user: User, held_id: int) -> None:
        """Discard a held message (nothing reaches the room log), learn it as spam."""
        held = await self._reviewable(user, held_id)
        async with self.deps.db.write() as conn:
            if not await spam_store.delete(conn, held.id):
                raise NotFound(NOT_FOUND)
            await audit_store.record(conn, actor_id=user.id, action="reject_message", room_id=held.room_id,
                                     target_id=held.sender_id, now=self.deps.clock(), data={"held": held.id})
        await self._resolved(held, False, None)
        await self.learn([str(held.data.get("text", ""))], True)

    async def _resolved(self, held: spam.Held, approved: bool, seq: int | None) -> None:
        async with self.deps.db.read() as conn:
            reviewers = (await spam_store.reviewers(conn, [held.room_id]))[held.room_id]
        frame = wire.HeldResolvedFrame(id=held.id, room=held.room_id, approved=approved, seq=seq)
        await self.emitter.to_users(sorted(reviewers | {held.sender_id}), frame)

    async def _reviewable(self, user: User, held_id: int) -> spam.Held:
        wait = await self.deps.bus.hit(f"action:{user.id}", self.deps.limits.action_rate)  # as message actions
        if wait:
            raise RateLimited(f"too many moderation actions; retry in {wait:.1f} s", wait)
        async with self.deps.db.read() as conn:
            held = await spam_store.get(conn, held_id)
            if held is None:
                raise NotFound(NOT_FOUND)
            await self._require_reviewer(conn, user, held.room_id, NOT_FOUND)
        return held

    @staticmethod
    async def _require_reviewer(conn: Any, user: User, room_id: int, missing: str = "no such room") -> None:
        """A room's held messages are its moderators' and up, and the server admins'. A room the
        user has not joined answers like one that does not exist; a member below moderator is refused."""
        if user.is_admin:
            return
        membership = await room_store.membership(conn, room_id, user.id)
        if membership is None or membership.state is not MemberState.JOINED:  # as audit: members only
            raise NotFound(missing)
        if not spam.exempt(False, membership):
            raise Forbidden("only the room's moderators and up review its held messages")
