"""Rooms, direct chats and membership."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import blocks, moderation, permissions, validation, wire
from parley.core.errors import Forbidden, Invalid, NotFound
from parley.core.models import (
    Event,
    EventType,
    Membership,
    MemberState,
    Role,
    Room,
    RoomKind,
    User,
    Visibility,
)
from parley.core.views import member_view, room_view
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import audit as audit_store
from parley.store import blocks as block_store
from parley.store import bots as bot_store
from parley.store import events as event_store
from parley.store import moderation as moderation_store
from parley.store import rooms as store
from parley.store import support as support_store
from parley.store import users as user_store

_NO_ROOM = permissions.NO_ROOM


class Rooms:
    def __init__(self, deps: Deps, emitter: Emitter) -> None:
        self.deps = deps
        self.emitter = emitter

    async def create(self, user: User, name: object, topic: object = "", visibility: object = "public") -> dict[str, Any]:
        _refuse_bot(user)
        clean_name = validation.room_name(name)
        clean_topic = validation.topic(topic if topic is not None else "")
        if visibility not in ("public", "private"):
            raise Invalid("visibility must be 'public' or 'private'")
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            room = await store.insert_room(conn, kind=RoomKind.ROOM, name=clean_name, topic=clean_topic,
                                           visibility=Visibility(visibility), creator_id=user.id, now=now)
            assert room is not None
            created = await self._append(conn, room.id, user, [
                (EventType.ROOM_CREATED, {"name": clean_name, "kind": "room", "visibility": visibility})])
            joined = await self._add_member(conn, room.id, user, user, Role.OWNER)
            room, membership = await self._reload(conn, room.id, user.id)
        await self.emitter.room_events([*created, *joined])
        return room_view(room, membership, member_count=1, unread=(0, 0))

    async def direct(self, user: User, usernames: object) -> tuple[dict[str, Any], bool]:
        """Find or create the direct chat of `user` and the named users. Returns (room, created)."""
        _refuse_bot(user)
        names = validation.usernames(usernames, max_count=validation.DIRECT_MAX_OTHERS)
        async with self.deps.db.read() as conn:
            others = [u for u in await user_store.by_usernames(conn, names) if u.id != user.id and not u.disabled]
            others = await support_store.without_guests(conn, others)  # a widget visitor has one room (issue 12)
        if len(others) != len({n.lower() for n in names if n.lower() != user.username.lower()}) or not others:
            raise Invalid("usernames must name 1 to 9 existing users other than you")
        people = sorted([user, *others], key=lambda u: u.id)
        key = ",".join(str(u.id) for u in people)
        async with self.deps.db.write() as conn:
            if await block_store.blocking(conn, [u.id for u in others], user.id):  # neutral: says not who
                raise Forbidden(blocks.NO_DIRECT)
            room = await store.by_direct_key(conn, key)
            emitted: list[Event] = []
            if room is None:
                room = await store.insert_room(conn, kind=RoomKind.DIRECT, name="", topic="",
                                               visibility=Visibility.PRIVATE, creator_id=user.id,
                                               now=self.deps.clock(), direct_key=key)
            if room is None:  # another request created it first
                room = await store.by_direct_key(conn, key)
                assert room is not None
            elif room.last_seq == 0:  # inserted just now: give it its first events
                emitted += await self._append(conn, room.id, user, [
                    (EventType.ROOM_CREATED, {"name": "", "kind": "direct", "visibility": "private"})])
                for person in people:
                    emitted += await self._add_member(conn, room.id, user, person, Role.MEMBER)
                if any(p.bot for p in people):  # issue 12: the bot's webhooks see this chat from now on
                    await bot_store.ensure_cursor(conn, room.id)
            room, membership = await self._reload(conn, room.id, user.id)
        await self.emitter.room_events(emitted)
        view = room_view(room, membership, member_count=len(people), unread=await self._unread(room.id, user, room.last_seq),
                         participants=people)
        return view, bool(emitted)

    async def get(self, user: User, room_id: int) -> dict[str, Any]:
        async with self.deps.db.read() as conn:
            room = await store.get(conn, room_id)
            membership = await store.membership(conn, room_id, user.id)
            if room is None or not (permissions.can_see(room, membership) or permissions.administers(user, room)):
                raise NotFound(_NO_ROOM)
            count = await store.member_count(conn, room_id)
            people = await self._participants(conn, room)
        mine = membership if membership and membership.state is not MemberState.LEFT else None
        unread = await self._unread(room_id, user, room.last_seq) if mine and mine.state is MemberState.JOINED else None
        return room_view(room, mine, member_count=count, unread=unread, participants=people)

    async def mine(self, user: User) -> list[dict[str, Any]]:
        async with self.deps.db.read() as conn:
            rows = await store.rooms_of(conn, user)
            views = []
            for room, membership, count, unread in rows:
                people = await self._participants(conn, room)
                joined = membership.state is MemberState.JOINED  # an invitee learns no counts
                views.append(room_view(room, membership, member_count=count, unread=unread if joined else None,
                                       participants=people))
        return views

    async def public(self, query: str = "", limit: int = 100) -> list[dict[str, Any]]:
        async with self.deps.db.read() as conn:
            rows = await store.public_rooms(conn, query.strip()[:80], max(1, min(limit, 200)))
        return [room_view(room, member_count=count) for room, count in rows]

    async def update(self, user: User, room_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        allowed = {"name", "topic", "archived", "slow_mode_s", "post_policy", "retention_days", "visibility"}
        if not changes or not set(changes) <= allowed:
            raise Invalid("send one or more of: name, topic, archived, slow_mode_s, post_policy, retention_days, "
                          "visibility")
        clean: dict[str, Any] = {}
        if "name" in changes:
            clean["name"] = validation.room_name(changes["name"])
        if "topic" in changes:
            clean["topic"] = validation.topic(changes["topic"])
        if "archived" in changes:
            if not isinstance(changes["archived"], bool):
                raise Invalid("archived must be true or false")
            clean["archived"] = changes["archived"]
        if "slow_mode_s" in changes:
            clean["slow_mode_s"] = moderation.slow_mode(changes["slow_mode_s"])
        if "post_policy" in changes:
            clean["post_policy"] = moderation.post_policy(changes["post_policy"]).value
        if "retention_days" in changes:
            clean["retention_days"] = validation.retention_days(changes["retention_days"])
        if "visibility" in changes:
            if changes["visibility"] not in Visibility.__members__.values():
                raise Invalid("visibility must be public or private")
            clean["visibility"] = changes["visibility"]
        async with self.deps.db.write() as conn:
            found = await store.get(conn, room_id, lock=True)
            membership = await store.membership(conn, room_id, user.id)
            room = permissions.require_room_edit(user, found, membership, set(clean))
            if ("name" in clean or "topic" in clean) and room.archived and clean.get("archived") is not False:
                raise Forbidden("the room is archived and read-only")
            await store.update(conn, room_id, **clean)  # a public name taken (any case): Conflict
            emitted = await self._append(conn, room_id, user, [(EventType.ROOM_UPDATED, {"changes": clean})])
            settings = {k: v for k, v in clean.items() if k != "retention_days"}
            if settings:
                await audit_store.record(conn, actor_id=user.id, action="room_settings", room_id=room_id,
                                         now=self.deps.clock(), data={"changes": settings})
            if "retention_days" in clean:  # privacy (issue 11): its own action, with what it was
                await audit_store.record(conn, actor_id=user.id, action="retention", room_id=room_id,
                                         now=self.deps.clock(), data={"days": clean["retention_days"],
                                                                      "was": room.retention_days})
            room = await store.get(conn, room_id)
            assert room is not None
            count = await store.member_count(conn, room_id)
        await self.emitter.room_events(emitted)
        mine = membership if membership and membership.state is not MemberState.LEFT else None
        unread = await self._unread(room_id, user, room.last_seq) if mine and mine.state is MemberState.JOINED else None
        return room_view(room, mine, member_count=count, unread=unread)

    async def join(self, user: User, room_id: int) -> dict[str, Any]:
        _refuse_bot(user)
        async with self.deps.db.write() as conn:
            room = await store.get(conn, room_id, lock=True)
            membership = await store.membership(conn, room_id, user.id)
            if room is None or not permissions.can_see(room, membership):
                raise NotFound(_NO_ROOM)
            emitted: list[Event] = []
            if membership is None or membership.state is not MemberState.JOINED:
                if not permissions.can_join(room, membership):
                    raise Forbidden("this room is invite-only or archived")
                await self._refuse_banned(conn, room_id, [user])
                role = membership.role if membership and membership.state is MemberState.INVITED else Role.MEMBER
                emitted = await self._add_member(conn, room_id, user, user, role)
        await self.emitter.room_events(emitted)
        return await self.get(user, room_id)

    async def leave(self, user: User, room_id: int) -> None:
        """Leave a room, or decline an invitation: either way a `member_left` in the log, so that
        everyone's member list drops the person live."""
        async with self.deps.db.write() as conn:
            room, membership = await self._reload(conn, room_id, user.id, lock=True)
            if membership.state is MemberState.LEFT:
                raise NotFound(_NO_ROOM)
            others, owners = await store.other_members(conn, room_id, user.id)
            permissions.require_leave(room, membership, others, owners)
            emitted = await self._append(conn, room_id, user, [(EventType.MEMBER_LEFT, {"user": user.public()})])
            # search: a member who leaves keeps finding what they could read until now
            left_seq = emitted[-1].seq if membership.state is MemberState.JOINED else None
            await store.set_state(conn, room_id, user.id, MemberState.LEFT, self.deps.clock(), left_seq=left_seq)
        await self.emitter.room_events(emitted)

    async def invite(self, user: User, room_id: int, usernames: object, *, guests: bool = False) -> list[dict[str, Any]]:
        """`guests`: the support assistant inviting a widget visitor into its conversation (issue 12)."""
        names = validation.usernames(usernames, max_count=50)
        async with self.deps.db.write() as conn:
            room, membership = await self._reload(conn, room_id, user.id, lock=True)
            room = permissions.require_poster(room, membership)
            if room.kind is RoomKind.DIRECT:
                raise Forbidden("direct chats take no invites; start a new direct chat instead")
            permissions.require_role(membership, permissions.invite_role(room), "inviting to this room")
            targets = [u for u in await user_store.by_usernames(conn, names) if not u.disabled]
            targets = targets if guests else await support_store.without_guests(conn, targets)
            if len(targets) != len({n.lower() for n in names}):
                raise Invalid("usernames must all name existing users")
            if any(t.bot and not t.server_bot for t in targets):  # the server's own bot is invited
                raise Invalid(f"bots are not invited: add them with POST /api/v1/rooms/{room_id}/bots")
            current = await store.memberships(conn, [(room_id, t.id) for t in targets])
            fresh = [t for t in targets if (current.get((room_id, t.id)) is None
                                            or current[(room_id, t.id)].state is MemberState.LEFT)]
            await self._refuse_banned(conn, room_id, fresh)
            emitted = await self._append(conn, room_id, user,
                                         [(EventType.MEMBER_INVITED, {"user": t.public()}) for t in fresh])
            for target, event in zip(fresh, emitted, strict=True):
                await store.upsert_member(conn, room_id=room_id, user_id=target.id, role=Role.MEMBER,
                                          state=MemberState.INVITED, joined_seq=event.seq, read_seq=0,
                                          now=self.deps.clock())
            room, _ = await self._reload(conn, room_id, user.id)
            count = await store.member_count(conn, room_id)
        await self.emitter.room_events(emitted)
        for target in fresh:
            invitation = {**room_view(room, member_count=count), "my_state": MemberState.INVITED.value}
            await self.emitter.to_user(target.id, wire.InvitedFrame(room=msgspec.convert(invitation, wire.Room),
                                                                    by=wire.public(user)))
        return [t.public() for t in targets]

    async def set_role(self, user: User, room_id: int, target_id: int, role: object) -> dict[str, Any]:
        labels = {r.label: r for r in Role}
        if role not in labels:
            raise Invalid("role must be one of: owner, admin, moderator, member")
        new_role = labels[role]  # type: ignore[index]
        async with self.deps.db.write() as conn:
            room = await store.get(conn, room_id, lock=True)
            membership = await store.membership(conn, room_id, user.id)
            room = permissions.require_settings_reader(user, room, membership)
            if room.kind is RoomKind.DIRECT:
                raise Forbidden("direct chats have no roles")
            if room.archived:
                raise Forbidden("the room is archived and read-only")
            target = await store.membership(conn, room_id, target_id)
            found = await user_store.by_id(conn, target_id)
            if target is None or target.state is not MemberState.JOINED or found is None:
                raise NotFound("that user is not a member of this room")
            if new_role is Role.OWNER:
                permissions.require_ownership_transfer(user, room, membership, target)
                changes = await self._ownership_changes(conn, room_id, found[0], target)
            else:
                if membership is None or membership.state is not MemberState.JOINED:
                    raise Forbidden("a server admin who is not a member can only name the owner")
                permissions.require_role_change(membership, target, new_role)
                changes = [] if target.role is new_role else [(found[0], new_role)]
            emitted = await self._set_roles(conn, room_id, user, changes)
            if changes:
                await audit_store.record(conn, actor_id=user.id, action="set_role", room_id=room_id,
                                         target_id=target_id, now=self.deps.clock(),
                                         data={"role": new_role.label, "previous": target.role.label})
            target = await store.membership(conn, room_id, target_id)
        await self.emitter.room_events(emitted)
        assert target is not None
        online = await self.deps.bus.online([target_id])
        return member_view(found[0], target, target_id in online)

    async def _refuse_banned(self, conn: AsyncConnection, room_id: int, people: list[User]) -> None:
        """A ban in force keeps its user out: no join, no invitation (an ended ban counts no more)."""
        found = await moderation_store.banned(conn, room_id, [p.id for p in people], self.deps.clock())
        if found:
            names = ", ".join(p.username for p in people if p.id in found)
            raise Forbidden(f"banned from this room: {names}", code="banned")

    @staticmethod
    async def _ownership_changes(conn: AsyncConnection, room_id: int, person: User,
                                 target: Membership) -> list[tuple[User, Role]]:
        """The new owner first, then every other owner down to admin: a room has one owner, and
        its log never shows it without one."""
        if target.role is Role.OWNER:
            return []
        owners = [u for u, m in await store.member_list(conn, room_id, (MemberState.JOINED,))
                  if m.role is Role.OWNER and u.id != person.id]
        return [(person, Role.OWNER), *((owner, Role.ADMIN) for owner in owners)]

    async def _set_roles(self, conn: AsyncConnection, room_id: int, actor: User,
                         changes: list[tuple[User, Role]]) -> list[Event]:
        for person, role in changes:
            await store.set_role(conn, room_id, person.id, role, self.deps.clock())
        return await self._append(conn, room_id, actor, [
            (EventType.MEMBER_UPDATED, {"user": person.public(), "role": role.label}) for person, role in changes])

    async def members(self, user: User, room_id: int) -> list[dict[str, Any]]:
        async with self.deps.db.read() as conn:
            room = await store.get(conn, room_id)
            permissions.require_settings_reader(user, room, await store.membership(conn, room_id, user.id))
            rows = await store.member_list(conn, room_id, (MemberState.JOINED, MemberState.INVITED))
        online = await self.deps.bus.online([u.id for u, _ in rows])
        return [member_view(u, m, u.id in online) for u, m in rows]

    async def _reload(self, conn: AsyncConnection, room_id: int, user_id: int,
                      lock: bool = False) -> tuple[Room, Membership]:
        room = await store.get(conn, room_id, lock=lock)
        membership = await store.membership(conn, room_id, user_id)
        if room is None or membership is None:
            raise NotFound(_NO_ROOM)
        return room, membership

    async def _append(self, conn: AsyncConnection, room_id: int, sender: User,
                      items: list[tuple[EventType, dict[str, Any]]]) -> list[Event]:
        """Number and store events in the room's log, inside the caller's transaction (which holds
        the state change they record), through the same writer as the send batch."""
        now = self.deps.clock()
        drafts = [event_store.Draft(room_id, sender.id, etype, data) for etype, data in items]
        placed = await event_store.append(conn, drafts, now)
        return [d.event(eid, seq, now, sender.public()) for d, (eid, seq) in zip(drafts, placed, strict=True)]

    async def _add_member(self, conn: AsyncConnection, room_id: int, actor: User, user: User, role: Role) -> list[Event]:
        events = await self._append(conn, room_id, actor, [
            (EventType.MEMBER_JOINED, {"user": user.public(), "role": role.label})])
        seq = events[0].seq
        await store.upsert_member(conn, room_id=room_id, user_id=user.id, role=role, state=MemberState.JOINED,
                                  joined_seq=seq, read_seq=seq, now=self.deps.clock())
        return events

    async def _participants(self, conn: AsyncConnection, room: Room) -> list[User] | None:
        if room.kind is not RoomKind.DIRECT:
            return None
        return [u for u, _ in await store.member_list(conn, room.id, (MemberState.JOINED,))]

    async def _unread(self, room_id: int, user: User, upto: int) -> tuple[int, int]:
        async with self.deps.db.read() as conn:
            return await store.unread(conn, room_id, user, upto)


def _refuse_bot(user: User) -> None:
    """Bots act only in the rooms they were added to (issue 12): they neither join nor start rooms.
    The server's own bot (no owner: the support assistant, which opens each visitor's conversation)
    is the exception; no API makes a bot without an owner."""
    if user.bot and not user.server_bot:
        raise Forbidden("a bot cannot join or start rooms by itself; a room admin or its owner adds it")
