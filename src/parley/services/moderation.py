"""Room moderation (issue 11): kick, ban, unban, mute, unmute, and a server admin's purge of a user's
recent messages. Each action changes its rows, appends its event to the room log and writes its
audit entry in one transaction (the room's row locked first, as every room change), then
publishes the event after the commit. Who may do what: core/moderation.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import moderation as rules
from parley.core import validation
from parley.core.errors import Invalid, NotFound, RateLimited
from parley.core.models import Event, EventType, Membership, MemberState, Room, User
from parley.core.permissions import NO_ROOM
from parley.services.actions import Actions
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import actions as action_store
from parley.store import audit
from parley.store import events as event_store
from parley.store import moderation as store
from parley.store import rooms as room_store
from parley.store import users as user_store

PURGE_CHUNK = 200  # messages deleted per transaction, so that a purge never holds a room for long
NO_USER = "no such user"


class Moderation:
    def __init__(self, deps: Deps, emitter: Emitter, actions: Actions) -> None:
        self.deps = deps
        self.emitter = emitter
        self.actions = actions  # a purge deletes as a delete does

    async def kick(self, actor: User, room_id: int, user_id: int, reason: object = "") -> None:
        """End a member's membership; they may join again (a public room) or be invited again."""
        why = validation.reason(reason)
        await self._rate(actor)
        async with self.deps.db.write() as conn:
            emitted = await self.kick_in(conn, actor, room_id, user_id, why)
        await self.emitter.room_events(emitted)

    async def kick_in(self, conn: AsyncConnection, actor: User, room_id: int, user_id: int, why: str) -> list[Event]:
        """`kick` in the caller's transaction (a report's resolution): checked, audited; returns the
        event to publish once the caller has committed."""
        room, mine, target, person = await self._open(conn, actor, room_id, user_id)
        rules.require_kick(actor, room, mine, user_id, target)
        emitted = await self._remove(conn, room_id, actor, person, target, EventType.MEMBER_KICKED, why, None)
        await audit.record(conn, actor_id=actor.id, action="kick", room_id=room_id, target_id=user_id,
                           reason=why, now=self.deps.clock())
        return emitted

    async def ban(self, actor: User, room_id: int, user_id: int, reason: object = "",
                  duration_s: int | None = None) -> dict[str, Any]:
        """Remove the user (if in the room) and keep them out, for `duration_s` seconds or for good.
        Banning again replaces the ban in force. Returns the ban."""
        why = validation.reason(reason)
        rules.until(0, duration_s, required=False)  # checked before the rate limit takes a token
        await self._rate(actor)
        async with self.deps.db.write() as conn:
            emitted, ban = await self.ban_in(conn, actor, room_id, user_id, why, duration_s)
        await self.emitter.room_events(emitted)
        return ban

    async def ban_in(self, conn: AsyncConnection, actor: User, room_id: int, user_id: int, why: str,
                     duration_s: int | None) -> tuple[list[Event], dict[str, Any]]:
        """`ban` in the caller's transaction: returns the events to publish after its commit, and the ban."""
        now = self.deps.clock()
        until = rules.until(now, duration_s, required=False)
        room, mine, target, person = await self._open(conn, actor, room_id, user_id)
        rules.require_ban(actor, room, mine, user_id, target)
        await store.ban(conn, room_id=room_id, user_id=user_id, by=actor.id, reason=why, until=until, now=now)
        emitted = await self._remove(conn, room_id, actor, person, target, EventType.MEMBER_BANNED, why, until)
        await audit.record(conn, actor_id=actor.id, action="ban", room_id=room_id, target_id=user_id,
                           reason=why, now=now, data={"until": until})
        return emitted, {"user": person.public(), "by": actor.public(), "reason": why, "until": until,
                         "created_at": now}

    async def unban(self, actor: User, room_id: int, user_id: int) -> None:
        await self._rate(actor)
        async with self.deps.db.write() as conn:
            room, mine, _, person = await self._open(conn, actor, room_id, user_id)
            rules.require_unban(actor, room, mine, user_id)
            if not await store.lift_ban(conn, room_id, user_id, self.deps.clock()):
                raise NotFound("that user is not banned from this room")
            emitted = await self._append(conn, room_id, actor, EventType.MEMBER_UNBANNED, person)
            await audit.record(conn, actor_id=actor.id, action="unban", room_id=room_id, target_id=user_id,
                               now=self.deps.clock())
        await self.emitter.room_events(emitted)

    async def bans(self, actor: User, room_id: int) -> list[dict[str, Any]]:
        """The bans in force, latest first, for the room's moderators and up and server admins."""
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            rules.require_ban_reader(actor, room, await room_store.membership(conn, room_id, actor.id))
            return await store.bans(conn, room_id, self.deps.clock())

    async def mute(self, actor: User, room_id: int, user_id: int, duration_s: int | None,
                   reason: object = "") -> dict[str, Any]:
        """The member reads but neither posts nor types for `duration_s` seconds (muting again
        replaces the end). The mute stays with the membership: leaving and joining again keeps it."""
        why = validation.reason(reason)
        rules.until(0, duration_s, required=True)  # checked before the rate limit takes a token
        await self._rate(actor)
        async with self.deps.db.write() as conn:
            emitted, muted = await self.mute_in(conn, actor, room_id, user_id, why, duration_s)
        await self.emitter.room_events(emitted)
        return muted

    async def mute_in(self, conn: AsyncConnection, actor: User, room_id: int, user_id: int, why: str,
                      duration_s: int | None) -> tuple[list[Event], dict[str, Any]]:
        """`mute` in the caller's transaction: returns the events to publish after its commit, and the mute."""
        now = self.deps.clock()
        until = rules.until(now, duration_s, required=True)
        room, mine, target, person = await self._open(conn, actor, room_id, user_id)
        rules.require_mute(actor, room, mine, user_id, target)
        await store.set_muted(conn, room_id, user_id, until)
        emitted = await self._append(conn, room_id, actor, EventType.MEMBER_MUTED, person, why, until)
        await audit.record(conn, actor_id=actor.id, action="mute", room_id=room_id, target_id=user_id,
                           reason=why, now=now, data={"until": until})
        return emitted, {"user": person.public(), "until": until}

    async def unmute(self, actor: User, room_id: int, user_id: int) -> None:
        now = self.deps.clock()
        await self._rate(actor)
        async with self.deps.db.write() as conn:
            room, mine, target, person = await self._open(conn, actor, room_id, user_id)
            rules.require_unmute(actor, room, mine, user_id, target)
            assert target is not None
            if not target.muted(now):
                raise NotFound("that member is not muted")
            await store.set_muted(conn, room_id, user_id, None)
            emitted = await self._append(conn, room_id, actor, EventType.MEMBER_UNMUTED, person)
            await audit.record(conn, actor_id=actor.id, action="unmute", room_id=room_id, target_id=user_id,
                               now=now)
        await self.emitter.room_events(emitted)

    async def purge(self, actor: User, user_id: int, since_s: int) -> dict[str, int]:
        """Delete every message `user_id` sent in the last `since_s` seconds, in every room (spam
        clean-up; server admins). Each room's deletions, their `message_deleted` events and one
        `purge_messages` audit entry commit together, in chunks of PURGE_CHUNK. Returns
        `{deleted, rooms}`."""
        rules.require_purger(actor)
        if isinstance(since_s, bool) or not isinstance(since_s, int) or not 1 <= since_s <= rules.PURGE_MAX_S:
            raise Invalid(f"since_s must be a whole number of seconds from 1 to {rules.PURGE_MAX_S}")
        await self._rate(actor)
        async with self.deps.db.read() as conn:
            if await user_store.by_id(conn, user_id) is None:
                raise NotFound(NO_USER)
            found = await store.recent_messages(conn, user_id, self.deps.clock() - since_s * 1000)
        deleted = rooms = 0
        for room_id, seqs in found.items():
            counted = 0
            for start in range(0, len(seqs), PURGE_CHUNK):
                counted += await self._purge_chunk(actor, room_id, user_id, seqs[start:start + PURGE_CHUNK], since_s)
            deleted += counted
            rooms += counted > 0
        return {"deleted": deleted, "rooms": rooms}

    async def _purge_chunk(self, actor: User, room_id: int, user_id: int, seqs: list[int], since_s: int) -> int:
        emitted: list[Event] = []
        blob_keys: list[str] = []
        async with self.deps.db.write() as conn:
            await room_store.get(conn, room_id, lock=True)
            for seq in seqs:
                target = await action_store.message(conn, room_id, seq)
                if target is None or target.data.get("deleted"):
                    continue
                events, keys = await self.actions.erase(conn, room_id, actor, target)
                emitted += events
                blob_keys += keys
            if emitted:
                await audit.record(conn, actor_id=actor.id, action="purge_messages", room_id=room_id,
                                   target_id=user_id, now=self.deps.clock(),
                                   data={"count": len(emitted), "since_s": since_s})
        await self.emitter.room_events(emitted)
        if blob_keys:
            await self.actions.uploads.collect_blobs(blob_keys)
        return len(emitted)

    # -- helpers ---------------------------------------------------------------------------------------

    async def _rate(self, actor: User) -> None:
        wait = await self.deps.bus.hit(f"moderation:{actor.id}", self.deps.limits.action_rate)
        if wait:
            raise RateLimited(f"too many moderation actions; retry in {wait:.1f} s", wait)

    @staticmethod
    async def _open(conn: AsyncConnection, actor: User, room_id: int,
                    user_id: int) -> tuple[Room | None, Membership | None, Membership | None, User]:
        """Lock the room; read the actor's and the target's memberships and the target user."""
        room = await room_store.get(conn, room_id, lock=True)
        mine = await room_store.membership(conn, room_id, actor.id)
        found = await user_store.by_id(conn, user_id)
        if found is None:
            if room is None or not (actor.is_admin or (mine and mine.state is MemberState.JOINED)):
                raise NotFound(NO_ROOM)
            raise NotFound(NO_USER)
        return room, mine, await room_store.membership(conn, room_id, user_id), found[0]

    async def _remove(self, conn: AsyncConnection, room_id: int, actor: User, person: User,
                      target: Membership | None, etype: EventType, why: str, until: int | None) -> list[Event]:
        """A kick's or a ban's event, and the end of the membership it records, and of reading the
        room: unlike a member who left, a removed one neither reads nor finds by search what they
        could read until then."""
        emitted = await self._append(conn, room_id, actor, etype, person, why, until)
        if target is not None and target.state is not MemberState.LEFT:
            left_seq = emitted[-1].seq if target.state is MemberState.JOINED else None
            await room_store.set_state(conn, room_id, person.id, MemberState.LEFT, self.deps.clock(),
                                       left_seq=left_seq)
        if target is not None:
            # Removed by a moderator, kicked or banned: no history up to the leave, no search there
            # (a member who leaves of their own accord keeps both, read-only).
            await room_store.forget_reads(conn, room_id, person.id)
        return emitted

    async def _append(self, conn: AsyncConnection, room_id: int, actor: User, etype: EventType, person: User,
                      why: str = "", until: int | None = None) -> list[Event]:
        now = self.deps.clock()
        data = {"user": person.public(), "by": actor.public(), "reason": why, "until": until}
        draft = event_store.Draft(room_id, actor.id, etype, data)
        ((event_id, seq),) = await event_store.append(conn, [draft], now)
        return [draft.event(event_id, seq, now, actor.public())]
