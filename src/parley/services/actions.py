"""Message actions (issue 10): edit, delete, react, pin; versions, threads and pins to read.

Each action changes its rows and appends its event through the one writer in one transaction
(the room's row locked first, as every other room change), then publishes the event after the
commit. Replies and threads are part of sending (services/messages.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import actions as rules
from parley.core import blocks, mentions, moderation, permissions, validation
from parley.core.errors import Conflict, Forbidden, NotFound, RateLimited
from parley.core.models import Event, EventType, Membership, RoomKind, User
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.services.uploads import Uploads
from parley.store import actions as store
from parley.store import audit as audit_store
from parley.store import blocks as block_store
from parley.store import events as event_store
from parley.store import rooms as room_store
from parley.store import search as search_store
from parley.store import uploads as upload_store

NO_MESSAGE = "no such message in this room"
PINS_MAX = 100
THREAD_PAGE_MAX = 100


@dataclass(slots=True)
class Deleted:
    """A deletion committed in a transaction: what to do after the commit, and what was erased."""

    events: list[Event]
    blob_keys: list[str]
    text: str  # the erased text (for the spam filter)
    by_other: bool  # a moderator's deletion of someone else's message


class Learner(Protocol):
    """What a deletion as spam teaches the spam filter (services/spam.py)."""

    async def learn(self, texts: list[str], spam: bool, /) -> object: ...


class Actions:
    def __init__(self, deps: Deps, emitter: Emitter, uploads: Uploads) -> None:
        self.deps = deps
        self.emitter = emitter
        self.uploads = uploads  # a delete erases the message's files
        self.learner: Learner | None = None  # the spam filter, set by the composition root

    async def edit(self, user: User, room_id: int, seq: object, text: object) -> tuple[dict[str, Any], bool]:
        """Replace the text of one's own message; the earlier text is kept as a version. Mentions
        are resolved again. Returns the message as it now is, and whether the text changed."""
        clean = validation.message_text(text, self.deps.limits.max_text)
        target_seq = validation.positive_int(seq, "seq")
        await self._rate(user)
        async with self.deps.db.write() as conn:
            membership = await self._open(conn, user, room_id)
            moderation.require_unmuted(membership, self.deps.clock())  # an edit says something new
            target = await self._live_message(conn, room_id, target_seq)
            permissions.require_author(membership, _author(target), "edit")
            if target.data.get("text") == clean:  # nothing changes: no version, no event
                return target.wire(), False
            ids = mentions.resolve(clean, await store.mentionable(conn, room_id, mentions.candidates(clean)))
            everyone = mentions.names_room(clean) and permissions.may_mention_room(membership)
            now = self.deps.clock()
            await store.keep_version(conn, room_id, target_seq, target.data.get("text", ""),
                                     target.data.get("edited_at", target.ts), now)
            target.data = rules.edited(target.data, clean, ids, everyone, now)
            await store.rewrite(conn, room_id, target_seq, target.data)
            await search_store.reindex(conn, room_id, target_seq, clean)  # an edit re-indexes
            data: dict[str, Any] = {"target": target_seq, "text": clean, "edited_at": now, "mentions": ids}
            if everyone:
                data["mentions_room"] = True
            emitted = await self._append(conn, room_id, user, EventType.MESSAGE_EDITED, data)
        await self.emitter.room_events(emitted)
        return target.wire(), True

    async def delete(self, user: User, room_id: int, seq: object, *, handling_report: bool = False,
                     as_spam: bool = False) -> bool:
        """Delete a message (one's own; anyone's for moderators and up): its text, mentions,
        attachments, versions, reactions and pin are erased; a tombstone keeps its place. Deleting
        a tombstone again changes nothing. `handling_report`: the caller (services/reports.py) has
        checked that `user` handles a report of this message, possibly as a server admin who is
        not a member of the room. `as_spam`: a moderator's deletion of someone else's message
        teaches the spam filter that its text is spam (one's own message teaches nothing)."""
        target_seq = validation.positive_int(seq, "seq")
        await self._rate(user)
        async with self.deps.db.write() as conn:
            deleted = await self.delete_in(conn, user, room_id, target_seq, handling_report=handling_report,
                                           as_spam=as_spam)
        if deleted is None:
            return False
        await self.deleted(deleted)
        if as_spam and deleted.by_other and deleted.text.strip() and self.learner is not None:
            await self.learner.learn([deleted.text], True)
        return True

    async def delete_in(self, conn: AsyncConnection, user: User, room_id: int, target_seq: int, *,
                        handling_report: bool = False, as_spam: bool = False) -> Deleted | None:
        """`delete` in the caller's transaction (a report's resolution): checked and audited; None
        when the message was deleted already. The caller passes the result to `deleted` once it
        has committed."""
        if handling_report:
            if await room_store.get(conn, room_id, lock=True) is None:
                raise NotFound(permissions.NO_ROOM)
            target = await self._message(conn, room_id, target_seq)
        else:
            membership = await self._open(conn, user, room_id, blockable=False)
            target = await self._message(conn, room_id, target_seq)
            permissions.require_deleter(membership, _author(target))
        if target.data.get("deleted"):
            return None
        text = str(target.data.get("text", ""))  # before the erasure
        emitted, blob_keys = await self.erase(conn, room_id, user, target)
        author = _author(target)
        if author != user.id:  # a moderator's deletion of someone else's message
            await audit_store.record(conn, actor_id=user.id, action="delete_message", room_id=room_id,
                                     target_id=author, now=self.deps.clock(), reason="spam" if as_spam else "",
                                     data={"seq": target_seq})
        return Deleted(emitted, blob_keys, text, author != user.id)

    async def deleted(self, done: Deleted) -> None:
        """After the commit of a deletion: its event published, its files collected."""
        await self.emitter.room_events(done.events)
        if done.blob_keys:
            await self.uploads.collect_blobs(done.blob_keys)

    async def erase(self, conn: AsyncConnection, room_id: int, user: User, target: Event) -> tuple[list[Event], list[str]]:
        """Delete one stored message in the caller's transaction (the room locked, the permission
        checked): returns its `message_deleted` event and the blob keys to collect after the commit."""
        seq = target.seq
        blob_keys = await upload_store.erase_message(conn, room_id, seq)
        await store.erase(conn, room_id, seq)
        await store.rewrite(conn, room_id, seq, rules.tombstone(target.data))
        await search_store.unindex(conn, room_id, seq)  # nothing findable stays
        emitted = await self._append(conn, room_id, user, EventType.MESSAGE_DELETED, {"target": seq, "by": user.id})
        return emitted, blob_keys

    async def react(self, user: User, room_id: int, seq: object, emoji: object, on: bool = True) -> bool:
        """Add (on) or take back one's reaction; idempotent. Returns whether anything changed."""
        glyph = rules.reaction_emoji(emoji)
        target_seq = validation.positive_int(seq, "seq")
        await self._rate(user)
        async with self.deps.db.write() as conn:
            await self._open(conn, user, room_id)
            await self._live_message(conn, room_id, target_seq)
            mine, distinct, present = await store.reaction_state(conn, room_id, target_seq, glyph, user.id)
            if mine == on:
                return False
            if on:
                if not present and distinct >= rules.REACTIONS_MAX:
                    raise Conflict(f"a message takes at most {rules.REACTIONS_MAX} different reactions; "
                                   "add one of those already there")
                await store.add_reaction(conn, room_id, target_seq, glyph, user.id, self.deps.clock())
            else:
                await store.remove_reaction(conn, room_id, target_seq, glyph, user.id)
            etype = EventType.REACTION_ADDED if on else EventType.REACTION_REMOVED
            emitted = await self._append(conn, room_id, user, etype, {"target": target_seq, "emoji": glyph,
                                                                      "user": user.id})
        await self.emitter.room_events(emitted)
        return True

    async def pin(self, user: User, room_id: int, seq: object, on: bool = True) -> bool:
        """Pin or unpin a message (moderators and up); idempotent. Returns whether anything changed."""
        target_seq = validation.positive_int(seq, "seq")
        await self._rate(user)
        async with self.deps.db.write() as conn:
            membership = await self._open(conn, user, room_id)
            permissions.require_pinner(membership)
            if on:
                await self._live_message(conn, room_id, target_seq)
                changed = await store.pin(conn, room_id, target_seq, user.id, self.deps.clock())
            else:
                changed = await store.unpin(conn, room_id, target_seq)
            if not changed:
                return False
            etype = EventType.MESSAGE_PINNED if on else EventType.MESSAGE_UNPINNED
            emitted = await self._append(conn, room_id, user, etype, {"target": target_seq})
        await self.emitter.room_events(emitted)
        return True

    async def versions(self, user: User, room_id: int, seq: int) -> dict[str, Any]:
        """The earlier texts of a message, oldest first, to those who can read the room."""
        async with self.deps.db.read() as conn:
            await self._reader(conn, user, room_id)
            target = await self._message(conn, room_id, seq)
            found = await store.versions(conn, room_id, seq)
        return {"seq": seq, "text": target.data.get("text", ""), "edited_at": target.data.get("edited_at"),
                "versions": found}

    async def thread(self, user: User, room_id: int, root: int, after: int = 0, limit: int = 50) -> dict[str, Any]:
        """A thread: its root and its replies after `after`, oldest first, with history's aggregates."""
        limit = max(1, min(limit, THREAD_PAGE_MAX))
        async with self.deps.db.read() as conn:
            await self._reader(conn, user, room_id)
            top = await self._message(conn, room_id, root)
            replies = await store.thread(conn, room_id, root, after, limit + 1)
            views = [top.wire(), *(e.wire() for e in replies[:limit])]
            await store.decorate(conn, room_id, user.id, views)
        return {"root": views[0], "replies": views[1:], "has_more": len(replies) > limit}

    async def pins(self, user: User, room_id: int) -> dict[str, Any]:
        async with self.deps.db.read() as conn:
            await self._reader(conn, user, room_id)
            found = await store.pinned(conn, room_id, PINS_MAX)
            views = [event.wire() for event, _, _ in found]
            await store.decorate(conn, room_id, user.id, views)
        return {"pins": [{"message": view, "pinned_by": by, "pinned_at": at}
                         for view, (_, by, at) in zip(views, found, strict=True)]}

    # -- helpers ---------------------------------------------------------------------------------------

    async def _rate(self, user: User) -> None:
        wait = await self.deps.bus.hit(f"action:{user.id}", self.deps.limits.action_rate)
        if wait:
            raise RateLimited(f"too many message actions; retry in {wait:.1f} s", wait)

    @staticmethod
    async def _open(conn: AsyncConnection, user: User, room_id: int, *, blockable: bool = True) -> Membership:
        """Lock the room (its changes serialise, as every room change does) and check that the user
        may act in it: joined, and the room not archived; in a direct chat, not blocked by the other
        member (`blockable`: everything but deleting one's own message), refused as a send is."""
        room = await room_store.get(conn, room_id, lock=True)
        membership = await room_store.membership(conn, room_id, user.id)
        room = permissions.require_poster(room, membership)
        assert membership is not None
        if blockable and room.kind is RoomKind.DIRECT and await block_store.blocked_in_room(conn, room_id, user.id):
            raise Forbidden(blocks.NO_DIRECT_ACT)
        return membership

    @staticmethod
    async def _reader(conn: AsyncConnection, user: User, room_id: int) -> None:
        room = await room_store.get(conn, room_id)
        permissions.require_reader(room, await room_store.membership(conn, room_id, user.id))

    @staticmethod
    async def _message(conn: AsyncConnection, room_id: int, seq: int) -> Event:
        found = await store.message(conn, room_id, seq)
        if found is None or found.type is not EventType.MESSAGE:
            raise NotFound(NO_MESSAGE)
        return found

    async def _live_message(self, conn: AsyncConnection, room_id: int, seq: int) -> Event:
        found = await self._message(conn, room_id, seq)
        if found.data.get("deleted"):
            raise NotFound("that message was deleted")
        return found

    async def _append(self, conn: AsyncConnection, room_id: int, sender: User, etype: EventType,
                      data: dict[str, Any]) -> list[Event]:
        now = self.deps.clock()
        draft = event_store.Draft(room_id, sender.id, etype, data)
        ((event_id, seq),) = await event_store.append(conn, [draft], now)
        return [draft.event(event_id, seq, now, sender.public())]


def _author(event: Event) -> int | None:
    return None if event.sender is None else event.sender["id"]
