"""Reports of messages (issue 11): members report, the room's moderators (or the server admins)
see a live queue and resolve each with an action; the reporter sees that it was handled.

Reports are not room events: their content is for their handlers only, so they travel as user
frames (`report_added`, `report_resolved`) to the people who handle them, after the commit.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import moderation as moderation_rules
from parley.core import permissions, validation, wire
from parley.core import reports as rules
from parley.core.errors import Conflict, Invalid, NotFound, RateLimited
from parley.core.models import Event, EventType, User
from parley.services.actions import Actions, Deleted
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import actions as action_store
from parley.store import audit as audit_store
from parley.store import reports as store
from parley.store import rooms as room_store
from parley.store.reports import ReportRow

log = logging.getLogger(__name__)
NO_REPORT = "no such report, or you do not handle it"
NO_MESSAGE = "no such message in this room"


class Moderator(Protocol):
    """What resolving needs of the moderation service (`ctx.moderation`): each action in the
    resolution's transaction, returning the events to publish after its commit."""

    async def mute_in(self, conn: AsyncConnection, actor: User, room_id: int, user_id: int, why: str,
                      duration_s: int | None) -> tuple[list[Event], Any]: ...

    async def kick_in(self, conn: AsyncConnection, actor: User, room_id: int, user_id: int,
                      why: str) -> list[Event]: ...

    async def ban_in(self, conn: AsyncConnection, actor: User, room_id: int, user_id: int, why: str,
                     duration_s: int | None) -> tuple[list[Event], Any]: ...


class Learner(Protocol):
    """What resolving teaches the spam filter (branch i11-spam, `ctx.spam`)."""

    async def learn(self, texts: list[str], spam: bool, /) -> object: ...


class Reports:
    def __init__(self, deps: Deps, emitter: Emitter, actions: Actions, moderation: Moderator,
                 spam: Learner | None = None) -> None:
        self.deps = deps
        self.emitter = emitter
        self.actions = actions  # `delete` erases the message as the existing delete does
        self.moderation = moderation  # mute, kick and ban: services/moderation.py, with its checks and audit
        self.spam = spam

    async def report(self, user: User, room_id: int, seq: int, reason: object, note: object = "") -> dict[str, Any]:
        """Report a message one can read; one report per reporter per message. Its handlers are
        told live. Returns the report as its reporter sees it."""
        if reason not in rules.REASONS:
            raise Invalid(f"reason must be one of: {', '.join(rules.REASONS)}")
        clean_note = validation.note(note, rules.NOTE_MAX)
        wait = await self.deps.bus.hit(f"report:{user.id}", self.deps.limits.report_rate)
        if wait:
            raise RateLimited(f"too many reports; retry in {wait:.1f} s", wait)
        async with self.deps.db.write() as conn:
            room = await room_store.get(conn, room_id)
            permissions.require_reader(room, await room_store.membership(conn, room_id, user.id))
            message = await action_store.message(conn, room_id, seq)
            if message is None or message.type is not EventType.MESSAGE:
                raise NotFound(NO_MESSAGE)
            kept = rules.require_reportable(message, user.id)
            sender_id = None if message.sender is None else message.sender["id"]
            row = await store.insert(conn, room_id=room_id, seq=seq, sender_id=sender_id, reporter_id=user.id,
                                     reason=str(reason), note=clean_note, snippet=kept, now=self.deps.clock())
            if row is None:
                raise Conflict("you reported this message already")
            told = await store.handlers(conn, room_id, sender_id)
            (full,) = await self._views(conn, [row])
            (mine,) = await self._views(conn, [row], reporter=True)
        await self.emitter.to_users(told, wire.ReportAddedFrame(report=_struct(full)))
        return mine

    async def queue(self, user: User, state: str = "open", room_id: int | None = None, before: int | None = None,
                    limit: int = 50) -> dict[str, Any]:
        """Reports `user` handles, newest first: those of the rooms they moderate (not those about
        a moderator's message), or all of them for a server admin. Each report is listed on its
        own; a message reported by several people appears once per reporter."""
        limit = max(1, min(limit, rules.PAGE_MAX))
        async with self.deps.db.read() as conn:
            if room_id is not None and not user.is_admin:
                room = await room_store.get(conn, room_id)
                membership = await room_store.membership(conn, room_id, user.id)
                permissions.require_reader(room, membership)
                if not rules.is_staff(membership):
                    raise NotFound(NO_REPORT)  # not an error to learn from: a member sees no reports
            rows = await store.page(conn, viewer_id=user.id, is_admin=user.is_admin, state=state, room_id=room_id,
                                    before=before, limit=limit + 1)
            views = await self._views(conn, rows[:limit])
        return {"reports": views, "has_more": len(rows) > limit}

    async def mine(self, user: User, before: int | None = None, limit: int = 50) -> dict[str, Any]:
        """The reports `user` made, newest first, with their state: the reporter's view."""
        limit = max(1, min(limit, rules.PAGE_MAX))
        async with self.deps.db.read() as conn:
            rows = await store.of_reporter(conn, user.id, before, limit + 1)
            views = await self._views(conn, rows[:limit], reporter=True)
        return {"reports": views, "has_more": len(rows) > limit}

    async def resolve(self, user: User, report_id: int, action: object, duration_s: int | None = None,
                      note: object = "") -> dict[str, Any]:
        """Carry out `action` and resolve every open report of the message, in one transaction:
        both commit or neither does. The reports are taken first (after the room's lock, as every
        room change), so of two handlers resolving at once one acts and the other gets 409
        `conflict` having done nothing; an action refused (say, banning an admin) leaves the report
        open. The action goes through the service that owns it (its checks, event and audit entry)."""
        if action not in rules.ACTIONS:
            raise Invalid(f"action must be one of: {', '.join(rules.ACTIONS)}")
        if action == "mute" and duration_s is None:
            raise Invalid("duration_s is required to mute")
        clean_note = validation.note(note, rules.NOTE_MAX)
        if action in ("mute", "ban"):
            moderation_rules.until(0, duration_s, required=action == "mute")  # a bad duration: 422 now
        await self._rate(user)
        row, text = await self._open_report(user, report_id)
        if action in rules.ON_SENDER and row.sender_id is None:
            raise Conflict("the message's sender no longer exists; delete or dismiss instead")
        async with self.deps.db.write() as conn:
            await room_store.get(conn, row.room_id, lock=True)
            resolved = await store.resolve_open(conn, row.room_id, row.seq, by=user.id, action=str(action),
                                                note=clean_note, now=self.deps.clock())
            if not resolved:
                raise Conflict("this report was resolved meanwhile")
            emitted, deleted = await self._carry_out(conn, user, row, str(action), duration_s, clean_note)
            await audit_store.record(conn, actor_id=user.id, action="resolve_report", room_id=row.room_id,
                                     target_id=row.sender_id, reason=clean_note, now=self.deps.clock(),
                                     data={"seq": row.seq, "action": str(action), "reports": [r.id for r in resolved]})
            told = sorted({user.id, *await store.handlers(conn, row.room_id, row.sender_id)})
            full = await self._views(conn, resolved)
            theirs = await self._views(conn, resolved, reporter=True)
        await self.emitter.room_events(emitted)
        if deleted is not None:
            await self.actions.deleted(deleted)
        for view, reporter_view, done in zip(full, theirs, resolved, strict=True):
            await self.emitter.to_users(told, wire.ReportResolvedFrame(report=_struct(view)))
            await self.emitter.to_user(done.reporter_id, wire.ReportResolvedFrame(report=_struct(reporter_view)))
        await self._learn(str(action), resolved, text)
        by_id = {v["id"]: v for v in full}
        return by_id.get(report_id, full[0])

    # -- helpers ---------------------------------------------------------------------------------------

    async def _open_report(self, user: User, report_id: int) -> tuple[ReportRow, str]:
        """The open report `user` handles, and the reported text (for the spam filter)."""
        async with self.deps.db.read() as conn:
            row = await store.get(conn, report_id)
            if row is None:
                raise NotFound(NO_REPORT)
            actor = await room_store.membership(conn, row.room_id, user.id)
            sender = None if row.sender_id is None else await room_store.membership(conn, row.room_id, row.sender_id)
            if not rules.may_handle(user.is_admin, actor, sender):
                raise NotFound(NO_REPORT)
            if row.state != "open":
                raise Conflict("this report was resolved already")
            message = await action_store.message(conn, row.room_id, row.seq)
        live = message is not None and not message.data.get("deleted")
        return row, message.data.get("text", "") if live and message is not None else row.snippet

    async def _carry_out(self, conn: AsyncConnection, user: User, row: ReportRow, action: str,
                         duration_s: int | None, note: str) -> tuple[list[Event], Deleted | None]:
        """The action, in the resolution's transaction: the events to publish after the commit (and
        the deletion's, which also has files to collect)."""
        if action == "delete":
            return [], await self.actions.delete_in(conn, user, row.room_id, row.seq, handling_report=True)
        if action not in rules.ON_SENDER:
            return [], None  # dismiss
        assert row.sender_id is not None  # checked by resolve
        if action == "mute":
            emitted, _ = await self.moderation.mute_in(conn, user, row.room_id, row.sender_id, note, duration_s)
        elif action == "kick":
            emitted = await self.moderation.kick_in(conn, user, row.room_id, row.sender_id, note)
        else:
            emitted, _ = await self.moderation.ban_in(conn, user, row.room_id, row.sender_id, note, duration_s)
        return emitted, None

    async def _learn(self, action: str, resolved: list[ReportRow], text: str) -> None:
        """Moderators' decisions teach the spam filter: upheld spam reports are spam, dismissed
        reports are not. After the commit; a failure to learn does not undo the resolution."""
        if self.spam is None or not text.strip():
            return  # HOOK(i11-spam): ctx.spam, once merged
        upheld_spam = rules.upheld(action) and any(r.reason == "spam" for r in resolved)
        if not upheld_spam and action != "dismiss":
            return
        try:
            await self.spam.learn([text], upheld_spam)
        except Exception:
            log.exception("the spam filter could not learn from report %d", resolved[0].id)

    async def _rate(self, user: User) -> None:
        wait = await self.deps.bus.hit(f"action:{user.id}", self.deps.limits.action_rate)
        if wait:
            raise RateLimited(f"too many moderation actions; retry in {wait:.1f} s", wait)

    @staticmethod
    async def _views(conn: AsyncConnection, rows: list[ReportRow], *, reporter: bool = False) -> list[dict[str, Any]]:
        """Reports as JSON, with four queries per page at most (messages, people, rooms)."""
        messages = {} if reporter else await store.messages(conn, [(r.room_id, r.seq) for r in rows])
        people = await store.people(conn, [i for r in rows for i in (r.sender_id, r.reporter_id, r.resolved_by)])
        rooms = await store.room_names(conn, [r.room_id for r in rows])
        out = []
        for r in rows:
            message = messages.get((r.room_id, r.seq))
            out.append({
                "id": r.id, "room": rooms[r.room_id], "seq": r.seq,
                "message": None if message is None else message.wire(), "snippet": r.snippet,
                "sender": people.get(r.sender_id) if r.sender_id is not None else None,
                "reporter": people[r.reporter_id], "reason": r.reason, "note": r.note, "state": r.state,
                "created_at": r.created_at,
                "resolved_by": None if reporter or r.resolved_by is None else people.get(r.resolved_by),
                "action": r.action, "resolution_note": "" if reporter else r.resolution_note,
                "resolved_at": r.resolved_at})
        return out


def _struct(view: dict[str, Any]) -> wire.Report:
    return msgspec.convert(view, wire.Report)
