"""The node's local fan-out: which connections are in which room, fed by the bus."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import orjson

from parley.bus.base import PRESENCE_CHANNEL, Bus, BusMessage, Kind, room_channel, user_channel
from parley.core import metrics, wire
from parley.core.errors import ParleyError
from parley.core.models import ENDS_MEMBERSHIP, Event
from parley.realtime.connection import Connection
from parley.realtime.frames import text_frame
from parley.realtime.presence import PresenceBatch
from parley.realtime.slots import Slots
from parley.services.messages import Messages
from parley.services.presence import Presence

log = logging.getLogger(__name__)
SWEEP_S = 5.0  # with a lossy bus, how often every local room is checked against the database
RESYNC_CHUNK = 500
REVOCATION_POLL_S = 1.0  # how soon a revocation made by another process closes connections here
PRUNE_EVERY = 3600  # polls between two prunings of the revocation log (about an hour)


class Hub:
    def __init__(self, bus: Bus, messages: Messages, presence: Presence, slots: Slots) -> None:
        self.bus = bus
        self.slots = slots
        self.messages = messages
        self.presence = presence
        self.rooms: defaultdict[int, set[Connection]] = defaultdict(set)
        self.users: defaultdict[int, set[Connection]] = defaultdict(set)
        self.peers: dict[str, Connection] = {}  # call participant id -> its connection here (issue 13)
        self._tasks: set[asyncio.Task[None]] = set()
        self._dirty: list[Connection] = []
        self.presence_batch = PresenceBatch(self.rooms)
        # Of each room with local connections: the latest seq seen published, and when (in
        # `_ticks`) the node began following it. See `attach`.
        self.heads: dict[int, int] = {}
        self._entered_at: dict[int, int] = {}
        self._ticks = 0
        self._revoked_upto: int | None = None  # the last revocation log id acted on
        self._polls = 0

    def schedule_flush(self, conn: Connection) -> None:
        """Flush `conn` at the end of this turn of the event loop, with all that the turn queued."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self._flush)
        self._dirty.append(conn)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    async def start(self) -> None:
        await self.bus.start(self.on_bus, self.resync)
        self.bus.subscribe(PRESENCE_CHANNEL)
        if self.bus.lossy:
            self._spawn(self._every(SWEEP_S, self._sweep))
        try:
            self._revoked_upto = await self.presence.revocation_head()
        except ParleyError as exc:  # the database is away: the first poll that reaches it starts the log
            log.warning("revocation log not read at start: %s", exc.message)
        self._spawn(self._poll_revocations())

    async def close(self) -> None:
        self.presence_batch.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self.bus.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        """A background check that fails is retried by the next sweep: say so in one line (a database
        outage is expected), and keep a traceback for what is not."""
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        if isinstance(exc, ParleyError):
            log.warning("background check skipped: %s", exc.message)
        else:
            log.error("background check failed", exc_info=exc)

    async def _every(self, seconds: float, action: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await action()
            except ParleyError as exc:
                log.warning("%s skipped: %s", action.__name__, exc.message)
            except Exception:
                log.exception("%s failed", action.__name__)

    async def _sweep(self) -> None:
        """The bus is only a wake-up: now and then, compare every local room with the database,
        close connections whose session was revoked, and retire the users of dead nodes."""
        await self._check(list(self.rooms))
        await self._check_sessions()
        await self.presence.reap()

    async def _check_sessions(self, conns: list[Connection] | None = None) -> None:
        """Close the connections (default: all) whose session is gone or expired."""
        if conns is None:
            conns = [c for peers in self.users.values() for c in peers]
        for start in range(0, len(conns), RESYNC_CHUNK):
            chunk = conns[start:start + RESYNC_CHUNK]
            live = await self.presence.live_sessions(sorted({c.session_id for c in chunk}))
            for conn in chunk:
                if conn.session_id not in live:
                    conn.spawn(conn.close(4001, "session revoked"))

    async def _poll_revocations(self) -> None:
        """Revocations reach this node from the database's revocation log, whichever process made
        them and whatever the bus (the bus's REVOKE is only the fast path)."""
        failing = False
        while True:
            await asyncio.sleep(REVOCATION_POLL_S)
            try:
                await self._read_revocations()
                if failing:
                    log.info("revocation log readable again")
                failing = False
            except ParleyError as exc:
                if not failing:  # once per outage, not once a second
                    log.warning("revocation log not readable: %s", exc.message)
                failing = True
            except Exception:
                log.exception("reading the revocation log failed")

    async def _read_revocations(self) -> None:
        if self._revoked_upto is None:
            self._revoked_upto = await self.presence.revocation_head()
            await self._check_sessions()  # whatever was revoked before is found by its absence
            return
        while True:
            found = await self.presence.revocations_after(self._revoked_upto)
            if not found:
                break
            self._revoked_upto = found[-1][0]
            revoked = {(user, session) for _, user, session in found}
            # Checked against the database: "all of the user's sessions" spares the session a
            # password change has just created.
            await self._check_sessions([c for c in self._connections_of({u for u, _ in revoked})
                                        if (c.user.id, 0) in revoked or (c.user.id, c.session_id) in revoked])
        self._polls += 1
        if self._polls % PRUNE_EVERY == 0:
            await self.presence.prune_revocations()

    def _connections_of(self, user_ids: set[int]) -> list[Connection]:
        return [c for u in user_ids for c in self.users.get(u, ())]

    def resync(self, channels: list[str] | None) -> None:
        """The bus says messages on these channels (None: any) may have been lost."""
        if channels is None:
            self._spawn(self._check_sessions())  # a revocation may have been lost too
            rooms = list(self.rooms)
        else:
            rooms = [int(c.split(":", 1)[1]) for c in channels if c.startswith("room:")]
        if rooms:
            self._spawn(self._check(rooms))

    async def _check(self, rooms: list[int]) -> None:
        for start in range(0, len(rooms), RESYNC_CHUNK):
            last = await self.presence.last_seqs(rooms[start:start + RESYNC_CHUNK])
            for room, seq in last.items():
                for conn in tuple(self.rooms.get(room, ())):
                    st = conn.rooms.get(room)
                    if st is not None and st.cursor < seq:
                        conn.catch_up(room, seq)

    @property
    def connection_count(self) -> int:
        return sum(len(c) for c in self.users.values())

    # -- connections -----------------------------------------------------------------------

    async def attach(self, conn: Connection, resume_from: dict[int, int] | None = None) -> dict[int, int]:
        """Register a connection in all its rooms and greet it with `hello` and its cursors.

        With `resume_from`, the connection starts at those cursors (rooms left out: from the
        join) with every room filling, and the caller replays them with `conn.resume`; `hello`
        then announces the resume point, never a position the client has not been sent.

        Returns the ends known without another read (rooms followed during the whole read), for
        `conn.resume(..., known=)`."""
        self._ticks += 1
        mark = self._ticks
        cursors = await self.presence.cursors(conn.user)
        # Rooms this node did not follow during the whole read: what was published there meanwhile
        # reached nobody here, so their ends are read again (one query, and none when every room of
        # the user already had a connection here, the common case after the first few connects).
        entered_at = self._entered_at
        unseen = [room for room in cursors if entered_at.get(room, mark) >= mark]
        self._add_user(conn)
        for room, (last_seq, joined_seq) in cursors.items():
            start = last_seq if resume_from is None else min(resume_from.get(room, joined_seq - 1), last_seq)
            self.enter(conn, room, start, joined_seq, filling=resume_from is not None)
        conn.send(wire.HelloFrame(user=wire.private(conn.user), session=str(conn.session_id),
                                  node=self.bus.node_id, rooms=dict(conn.cursors)))
        if resume_from is None:
            # The others were followed: the latest seq seen published says what the read missed.
            heads = self.heads
            for room, st in conn.rooms.items():
                head = heads.get(room, 0)
                if head > st.cursor:
                    conn.catch_up(room, head)
            if unseen:
                for room, last in (await self.presence.last_seqs(unseen)).items():
                    st = conn.rooms.get(room)
                    if st is not None and last > st.cursor:
                        conn.catch_up(room, last)
        await self.presence.connected(conn.user, list(conn.rooms))
        skip = set(unseen)
        heads = self.heads
        return {room: max(last, heads.get(room, 0)) for room, (last, _) in cursors.items() if room not in skip}

    async def detach(self, conn: Connection) -> None:
        conn.cancel_tasks()
        for peer in conn.call_peers.values():  # the call keeps them until they time out or come back
            if self.peers.get(peer) is conn:
                del self.peers[peer]
        rooms = list(conn.rooms)
        for room in rooms:
            self.leave(conn, room)
        peers = self.users.get(conn.user.id)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                del self.users[conn.user.id]
                self.bus.unsubscribe(user_channel(conn.user.id))
        await self.presence.disconnected(conn.user, rooms)

    def _add_user(self, conn: Connection) -> None:
        if conn.user.id not in self.users:
            self.bus.subscribe(user_channel(conn.user.id))
        self.users[conn.user.id].add(conn)

    def enter(self, conn: Connection, room: int, cursor: int, joined_seq: int, filling: bool = False) -> None:
        if room not in self.rooms:
            self.bus.subscribe(room_channel(room))
            self._ticks += 1
            self._entered_at[room] = self._ticks
        self.rooms[room].add(conn)
        conn.enter(room, cursor, joined_seq, filling)

    def leave(self, conn: Connection, room: int) -> None:
        conn.exit(room)
        members = self.rooms.get(room)
        if members is None:
            return
        members.discard(conn)
        if not members:
            del self.rooms[room]
            self._entered_at.pop(room, None)
            self.heads.pop(room, None)
            self.bus.unsubscribe(room_channel(room))

    async def replay(self, room: int, after: int, limit: int) -> list[Event]:
        return await self.messages.replay(room, after, limit)

    async def last_seqs(self, rooms: list[int]) -> dict[int, int]:
        return await self.presence.last_seqs(rooms)

    # -- bus -------------------------------------------------------------------------------

    def on_bus(self, channel: str, msg: BusMessage) -> None:
        handler = _HANDLERS.get(msg.kind)
        if handler is not None:
            handler(self, msg)

    def _room_event(self, msg: BusMessage) -> None:
        room, seq = msg.room, msg.seq
        conns = self.rooms.get(room)
        if not conns:
            return
        if seq > self.heads.get(room, 0):
            self.heads[room] = seq
        frame = text_frame(msg.payload)
        counts = metrics.COUNTS
        counts.fanned_events += 1
        counts.deliveries += len(conns)
        payload = msg.payload
        if msg.event_type in ENDS_MEMBERSHIP:  # its subject leaves `conns` while they are walked
            for conn in tuple(conns):
                conn.deliver(room, seq, payload, frame, msg.user)
        else:
            for conn in conns:
                conn.deliver(room, seq, payload, frame)

    def _ephemeral(self, msg: BusMessage) -> None:
        conns = self.rooms.get(msg.room)
        if not conns:
            return
        frame = text_frame(msg.payload)
        skip_self = msg.event_type == "typing"
        for conn in tuple(conns):
            if not (skip_self and conn.user.id == msg.user):
                conn.emit(msg.payload, frame)

    def _joined(self, msg: BusMessage) -> None:
        for conn in tuple(self.users.get(msg.user, ())):
            if msg.room not in conn.rooms:
                self.enter(conn, msg.room, msg.seq - 1, msg.seq)
                conn.catch_up(msg.room, msg.seq)

    def _left(self, msg: BusMessage) -> None:
        for conn in tuple(self.users.get(msg.user, ())):
            st = conn.rooms.get(msg.room)
            if st is not None and st.cursor < msg.seq:
                conn.catch_up(msg.room, msg.seq)

    def _user_frame(self, msg: BusMessage) -> None:
        frame = text_frame(msg.payload)
        for conn in tuple(self.users.get(msg.user, ())):
            conn.emit(msg.payload, frame)

    def _peer_frame(self, msg: BusMessage) -> None:
        conn = self.peers.get(msg.event_type)
        if conn is not None and conn.user.id == msg.user:
            conn.emit(msg.payload, text_frame(msg.payload))

    def add_peer(self, conn: Connection, call_id: int, peer: str) -> None:
        conn.call_peers[call_id] = peer
        self.peers[peer] = conn

    def drop_peer(self, conn: Connection, call_id: int) -> str | None:
        peer = conn.call_peers.pop(call_id, None)
        if peer is not None and self.peers.get(peer) is conn:
            del self.peers[peer]
        return peer

    def _revoke(self, msg: BusMessage) -> None:
        for conn in tuple(self.users.get(msg.user, ())):
            if msg.seq in (0, conn.session_id):
                conn.spawn(conn.close(4001, "session revoked"))

    def _presence(self, msg: BusMessage) -> None:
        body = orjson.loads(msg.payload)
        change = body.get("frame", body)  # a node before issue 14 put the change in a single frame
        self.presence_batch.note(change["user"], change["online"], body["rooms"])

_HANDLERS = {
    Kind.ROOM_EVENT: Hub._room_event,
    Kind.EPHEMERAL: Hub._ephemeral,
    Kind.JOINED: Hub._joined,
    Kind.LEFT: Hub._left,
    Kind.USER_FRAME: Hub._user_frame,
    Kind.REVOKE: Hub._revoke,
    Kind.PRESENCE: Hub._presence,
    Kind.PEER_FRAME: Hub._peer_frame,
}
