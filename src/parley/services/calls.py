"""Voice and video calls (issue 13): Parley as the signalling server of a mesh of browsers.

A call lives in the database (`calls`, `call_peers`), so every node knows who is in it and a node's
death loses nothing: its participants stop being seen and any node's sweep takes them out, ending
the call when no one is left. `call_started` and `call_ended` are room-log events through the one
writer (`store.events`), appended in the transaction that changes the call's rows; who is in it now
travels as the ephemeral `call_state` frame; signals (offers, answers, ICE candidates) go to one
participant connection, on any node, through the bus (`Emitter.to_peer`), and are never stored.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import calls as rules
from parley.core import permissions, wire
from parley.core.errors import Conflict, NotFound, RateLimited
from parley.core.models import Event, EventType, Membership, Room, RoomKind, User
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.store import calls as store
from parley.store import events as event_store
from parley.store import reports as report_store
from parley.store import rooms as room_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallSettings:
    ice_servers: list[dict[str, Any]]
    turn_urls: list[str]
    turn_secret: str
    turn_ttl_s: int = 3600
    timeout_s: float = 30.0  # a participant no node has seen for this long is out


class Calls:
    def __init__(self, deps: Deps, emitter: Emitter, settings: CallSettings) -> None:
        self.deps = deps
        self.emitter = emitter
        self.settings = settings
        emitter.gone.append(self.members_gone)

    # -- REST -----------------------------------------------------------------------------------------

    async def ice(self, user: User) -> dict[str, Any]:
        """ICE servers for my next call, with fresh TURN credentials (rate limited)."""
        await self._rate(user)
        s = self.settings
        return rules.ice_servers(s.ice_servers, s.turn_urls, s.turn_secret, s.turn_ttl_s, user.id,
                                 self.deps.clock() // 1000)

    async def current(self, user: User, room_id: int) -> dict[str, Any]:
        """The room's running call (for its joined members), or null."""
        async with self.deps.db.read() as conn:
            room = await room_store.get(conn, room_id)
            permissions.require_reader(room, await room_store.membership(conn, room_id, user.id))
            found = await store.running(conn, room_id)
            call = None if found is None else await self._view(conn, found)
        return {"call": None if call is None else _builtins(call)}

    # -- the socket's frames -----------------------------------------------------------------------

    async def start(self, user: User, room_id: int, video: bool) -> tuple[wire.Call, str]:
        """Start a call in the room, or join the one running there. Returns it and my peer id."""
        await self._rate(user)
        now = self.deps.clock()
        emitted: list[Event] = []
        async with self.deps.db.write() as conn:
            room = await room_store.get(conn, room_id, lock=True)  # one running call per room
            rules.require_caller(room, await room_store.membership(conn, room_id, user.id), now)
            found = await store.running(conn, room_id)
            if found is None:
                call_id = await store.insert(conn, room_id=room_id, started_by=user.id, now=now, video=video)
                draft = event_store.Draft(room_id, user.id, EventType.CALL_STARTED, {"call": call_id, "video": video})
                ((event_id, seq),) = await event_store.append(conn, [draft], now)
                emitted.append(draft.event(event_id, seq, now, user.public()))
            else:
                call_id = found.id
            peer = await self._add(conn, call_id, user, now)
            view = await self._view(conn, await _get(conn, call_id))
        await self.emitter.room_events(emitted)
        await self._tell(view)
        return view, peer

    async def join(self, user: User, call_id: int, peer: str | None = None) -> tuple[wire.Call, str]:
        """Join a running call; with `peer`, take my participant connection over (a reconnect)."""
        await self._rate(user)
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            call, room, membership = await _open(conn, call_id, user)
            rules.require_caller(room, membership, now)
            if peer is not None and await store.rejoin(conn, peer, call_id, user.id, now):
                mine = peer
            else:
                mine = await self._add(conn, call_id, user, now)
            view = await self._view(conn, await _get(conn, call.id))
        await self._tell(view)
        return view, mine

    async def signal(self, user: User, call_id: int, source: str, frame: wire.CallSignalFrame, target: str) -> None:
        """Relay an offer, answer or candidate from my participant `source` to participant `target`:
        both live in the running call and joined members of its room (one query), or not_found."""
        async with self.deps.db.read() as conn:
            route = await store.signal_route(conn, call_id, source, target)
        mine, theirs = route.get(source), route.get(target)
        if mine is None or mine.user_id != user.id:
            raise NotFound(rules.NO_CALL)
        if theirs is None or source == target:
            raise NotFound("no such participant in this call")
        await self.emitter.to_peer(theirs.user_id, target, frame)

    async def leave(self, user: User, call_id: int, peers: list[str]) -> None:
        """My participant connections `peers` leave; the call ends with its last one. Not rate
        limited: a refused leave would keep someone in a call, and each participant leaves once."""
        now = self.deps.clock()
        emitted: list[Event] = []
        async with self.deps.db.write() as conn:
            call, _, _ = await _open(conn, call_id, user)
            await store.leave(conn, peers, now)
            view = None
            if await store.live_count(conn, call_id) == 0:
                emitted = await self._end(conn, call_id, None, now)
            else:
                view = await self._view(conn, call)
        await self.emitter.room_events(emitted)
        await self._tell(view, call.room_id)

    async def end(self, user: User, call_id: int, in_call: bool) -> None:
        """End the call for everyone: who started it, anyone in it, or the room's moderators."""
        await self._rate(user)
        now = self.deps.clock()
        async with self.deps.db.write() as conn:
            call, _, membership = await _open(conn, call_id, user)
            if not rules.may_end(membership, call.started_by, user.id, in_call):
                raise Conflict("only its caller, its participants and the room's moderators end a call")
            emitted = await self._end(conn, call_id, user, now)
        await self.emitter.room_events(emitted)
        await self._tell(None, call.room_id)

    async def decline(self, user: User, call_id: int) -> None:
        """A direct chat's callee declines: a 1:1 call nobody answered ends, marked declined. In a
        group chat, or once answered, declining only stops my ringing."""
        await self._rate(user)
        now = self.deps.clock()
        emitted: list[Event] = []
        async with self.deps.db.write() as conn:
            call, room, _ = await _open(conn, call_id, user)
            joined, _ = await room_store.other_members(conn, call.room_id, user.id)
            if (room.kind is RoomKind.DIRECT and joined == 1 and call.answered_at is None
                    and call.started_by != user.id):
                emitted = await self._end(conn, call_id, user, now, declined=True)
        await self.emitter.room_events(emitted)
        if emitted:
            await self._tell(None, call.room_id)

    # -- the nodes' upkeep --------------------------------------------------------------------------

    async def heartbeat(self, peers: list[str]) -> None:
        """This node still holds these participant connections."""
        if peers:
            async with self.deps.db.write() as conn:
                await store.heartbeat(conn, peers, self.deps.clock())

    async def sweep(self) -> int:
        """Take out the participants no node has seen for `timeout_s` (their node died, their socket
        never came back) and end the calls left empty. Any node may run it; returns how many."""
        now = self.deps.clock()
        async with self.deps.db.read() as conn:
            gone = await store.stale(conn, now - int(self.settings.timeout_s * 1000))
        by_call: dict[int, list[str]] = {}
        for p in gone:
            by_call.setdefault(p.call_id, []).append(p.peer)
        for call_id, peers in by_call.items():
            try:
                await self._drop(call_id, peers, now)
            except NotFound:
                continue
        return len(gone)

    async def members_gone(self, pairs: list[tuple[int, int]]) -> None:
        """Members who left, were kicked or were banned are out of their room's running call at once
        (the others' clients close their peer connections on the `call_state` that follows)."""
        now = self.deps.clock()
        async with self.deps.db.read() as conn:
            running = await store.running_in(conn, sorted({room for room, _ in pairs}))
            drops: dict[int, list[str]] = {}
            for room_id, user_id in pairs:
                call_id = running.get(room_id)
                if call_id is not None:
                    drops.setdefault(call_id, []).extend(
                        p.peer for p, _ in await store.live_peers(conn, call_id) if p.user_id == user_id)
        for call_id, peers in drops.items():
            if peers:
                await self._drop(call_id, peers, now)

    async def _drop(self, call_id: int, peers: list[str], now: int) -> None:
        emitted: list[Event] = []
        async with self.deps.db.write() as conn:
            call = await store.get(conn, call_id)
            if call is None:
                return
            await room_store.get(conn, call.room_id, lock=True)
            await store.leave(conn, peers, now)
            view = None
            if call.ended_at is None and await store.live_count(conn, call_id) == 0:
                emitted = await self._end(conn, call_id, None, now)
            elif call.ended_at is None:
                view = await self._view(conn, call)
        await self.emitter.room_events(emitted)
        if call.ended_at is None:
            await self._tell(view, call.room_id)

    # -- helpers -----------------------------------------------------------------------------------------

    async def _add(self, conn: AsyncConnection, call_id: int, user: User, now: int) -> str:
        live = await store.live_peers(conn, call_id)
        if len(live) >= rules.MAX_PEERS:
            raise Conflict(f"the call is full ({rules.MAX_PEERS} people at most in a mesh call)", code="call_full")
        peer = secrets.token_urlsafe(rules.PEER_ID_BYTES)
        await store.add_peer(conn, peer=peer, call_id=call_id, user_id=user.id, now=now)
        call = await store.get(conn, call_id)
        if call is not None and call.answered_at is None and call.started_by != user.id:
            await store.answered(conn, call_id, now)
        return peer

    async def _end(self, conn: AsyncConnection, call_id: int, by: User | None, now: int,
                   declined: bool = False) -> list[Event]:
        ended = await store.end(conn, call_id, now)
        if ended is None:
            return []
        people = await store.everyone(conn, call_id)
        data = {"call": call_id, "by": None if by is None else by.public(), "participants": people,
                "duration_ms": rules.duration_ms(ended.answered_at, now), "missed": ended.answered_at is None,
                "declined": declined, "video": ended.video}
        draft = event_store.Draft(ended.room_id, None if by is None else by.id, EventType.CALL_ENDED, data)
        ((event_id, seq),) = await event_store.append(conn, [draft], now)
        return [draft.event(event_id, seq, now, None if by is None else by.public())]

    @staticmethod
    async def _view(conn: AsyncConnection, call: store.CallRow) -> wire.Call:
        live = await store.live_peers(conn, call.id)
        starter = None
        if call.started_by is not None:
            people = {p["id"]: p for _, p in live}
            starter = people.get(call.started_by) or next(iter(await _people(conn, [call.started_by])), None)
        return wire.Call(id=call.id, room=call.room_id, started_by=None if starter is None else _user(starter),
                         started_at=call.started_at, video=call.video, answered=call.answered_at is not None,
                         participants=[wire.CallPeer(p.peer, _user(u), p.joined_at) for p, u in live])

    async def _tell(self, view: wire.Call | None, room_id: int | None = None) -> None:
        """Who is in the call now, to the room's connections (the join banner, the call's grid)."""
        room = view.room if view is not None else room_id
        assert room is not None
        await self.emitter.ephemeral(room, 0, wire.CallStateFrame(room=room, call=view))

    async def _rate(self, user: User) -> None:
        wait = await self.deps.bus.hit(f"call:{user.id}", self.deps.limits.call_rate)
        if wait:
            raise RateLimited(f"too many call requests; retry in {wait:.1f} s", wait)


async def _open(conn: AsyncConnection, call_id: int, user: User) -> tuple[store.CallRow, Room, Membership]:
    """A running call of a room `user` is a joined member of, its room locked. Whether it exists,
    or ended, is told to the room's members only: for anyone else it is not found."""
    call = await store.get(conn, call_id)
    if call is None:
        raise NotFound(rules.NO_CALL)
    room = await room_store.get(conn, call.room_id, lock=True)
    membership = await room_store.membership(conn, call.room_id, user.id)
    try:
        room = permissions.require_reader(room, membership)
    except NotFound:
        raise NotFound(rules.NO_CALL) from None
    assert membership is not None
    call = await store.get(conn, call_id)  # it may have ended while the lock was awaited
    if call is None or call.ended_at is not None:
        raise NotFound("the call has ended")
    return call, room, membership


async def _get(conn: AsyncConnection, call_id: int) -> store.CallRow:
    call = await store.get(conn, call_id)
    if call is None:
        raise NotFound(rules.NO_CALL)
    return call


async def _people(conn: AsyncConnection, ids: list[int]) -> list[dict[str, Any]]:
    return list((await report_store.people(conn, ids)).values())  # the one "public users by id" query


def _user(p: dict[str, Any]) -> wire.UserPublic:
    return wire.UserPublic(p["id"], p["username"], p["display_name"], p.get("avatar_url"))


def _builtins(call: wire.Call) -> dict[str, Any]:
    return msgspec.to_builtins(call)
