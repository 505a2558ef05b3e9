"""One client connection: its state per room, and the replay that keeps delivery gap-free.

Delivery rule: a room event reaches the client only as `cursor + 1`. An event further ahead means
something was missed (a late or lost bus message, a resume, a fresh join): the room is then
*filling* — live events are only noted — while its events are read from the database in order.

What a connection has sent of a room is one range, (floor, cursor]. A `resume` with a cursor below
`floor` is sent only the events below it (the backfill): never one of that range again.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from parley.core import metrics, wire
from parley.core.errors import ParleyError
from parley.core.models import ENDS_MEMBERSHIP, Event, User
from parley.realtime.frames import text_frame

log = logging.getLogger(__name__)
REPLAY_PAGE = 500
# Replay waits while more than this is queued for the socket (at most a quarter of the queue
# bound): a resume costs the server a bounded buffer, however large the room, and a client that
# reads slowly is not dropped for the size of its own replay.
REPLAY_IN_FLIGHT = 256 * 1024
REPLAY_STALL_S = 30.0  # a replay that cannot write for this long is a reader that stopped


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def is_closing(self) -> bool: ...
    def abort(self) -> None: ...


class Host(Protocol):
    """What a connection needs of the hub, and no more (so that it can be driven on its own)."""

    def schedule_flush(self, conn: Connection) -> None: ...
    def leave(self, conn: Connection, room: int) -> None: ...
    async def replay(self, room: int, after: int, limit: int) -> list[Event]: ...
    async def last_seqs(self, rooms: list[int]) -> dict[int, int]: ...


class State(enum.Enum):
    OPEN = 1
    CLOSED = 2


class RoomState:
    """One room of one connection, which has sent the client exactly the events (floor, cursor]."""

    __slots__ = ("cursor", "filling", "floor", "joined_at", "pending")

    def __init__(self, cursor: int, joined_at: int, filling: bool = False) -> None:
        self.cursor = cursor  # the last event sent (or that the client said it holds)
        self.floor = cursor  # where this connection started the room; a backfill lowers it
        self.joined_at = joined_at  # the seq of the user's `member_joined`: a leave before it is history
        self.filling = filling  # read from the database: live events are only noted in `pending`
        self.pending = 0  # the highest seq announced live, to be read while filling


class Connection:
    # Slots, and the lock and task set made on first use: tens of thousands of idle connections
    # each hold only what they use (issue 14).
    __slots__ = ("__weakref__", "_close", "_fill_lock_", "_max_queue", "_out", "_out_bytes", "_tasks",
                 "_transport", "call_peers", "host", "pinged", "rooms", "seen", "session_id", "state", "user")
    sends_frames = True  # writes the hub's WebSocket frames as they are (SSE frames events its own way)

    def __init__(self, host: Host, user: User, session_id: int, transport: Transport,
                 close: Callable[[int, str], Awaitable[Any]], max_queue: int) -> None:
        self.host = host
        self.user = user
        self.session_id = session_id
        self._transport = transport
        self._close = close
        self._max_queue = max_queue
        self.state = State.OPEN
        self.rooms: dict[int, RoomState] = {}
        self.call_peers: dict[int, str] = {}  # call id -> my participant id in it (issue 13)
        self._fill_lock_: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] | None = None
        self._out: list[bytes] = []
        self._out_bytes = 0
        self.seen = 0.0  # liveness (realtime/liveness.py): loop time of the last frame received
        self.pinged = 0.0  # and of the last ping sent

    @property
    def _fill_lock(self) -> asyncio.Lock:
        if self._fill_lock_ is None:
            self._fill_lock_ = asyncio.Lock()
        return self._fill_lock_

    @property
    def cursors(self) -> dict[int, int]:
        return {room: st.cursor for room, st in self.rooms.items()}

    # -- writing -------------------------------------------------------------------------------

    def write(self, frame: bytes) -> None:
        """Queue a built frame. Frames queued in one turn of the event loop leave in one write
        (one system call per connection per turn, however many events the turn delivered)."""
        if self.state is not State.OPEN:
            return
        self._out.append(frame)
        self._out_bytes += len(frame)
        if len(self._out) == 1:
            self.host.schedule_flush(self)

    def flush(self) -> None:
        """Hand the queued frames to the socket. The queue is the socket's send buffer, bounded:
        a client that stops reading is dropped (it reconnects and resumes) instead of growing memory."""
        out, self._out, self._out_bytes = self._out, [], 0
        if self.state is not State.OPEN or not out:
            return
        transport = self._transport
        if transport.is_closing():
            self.state = State.CLOSED
            return
        transport.write(out[0] if len(out) == 1 else b"".join(out))
        if transport.get_write_buffer_size() > self._max_queue:
            log.warning("dropping slow consumer user=%s session=%s", self.user.id, self.session_id)
            metrics.COUNTS.dropped_slow += 1
            self.state = State.CLOSED
            transport.abort()

    def emit(self, payload: bytes, frame: bytes | None = None) -> None:
        """Write one event: `payload` is its JSON, `frame` the WebSocket frame of it when the hub
        has built it already for every connection of the room."""
        self.write(frame if frame is not None else text_frame(payload))

    def send(self, frame: wire.ServerFrame) -> None:
        self.emit(wire.encode(frame))

    def write_error(self, code: str, message: str, ref: Any, retry_after: float | None = None) -> None:
        self.emit(wire.error_frame(code, message, ref, retry_after))

    async def close(self, code: int, reason: str) -> None:
        self.flush()
        if self.state is State.OPEN:
            self.state = State.CLOSED
            await self._close(code, reason)

    def ping(self, frame: bytes) -> None:
        """Write a WebSocket ping straight to the socket (a whole frame: it cannot split a queued one)."""
        if self.state is State.OPEN and not self._transport.is_closing():
            self._transport.write(frame)

    def drop_dead(self) -> None:
        """The peer stopped answering: abort (a close handshake would wait on it), which ends the handler."""
        log.info("closing silent WebSocket user=%s session=%s", self.user.id, self.session_id)
        self.state = State.CLOSED
        self._transport.abort()

    # -- room membership -------------------------------------------------------------------

    def enter(self, room: int, cursor: int, joined_seq: int, filling: bool = False) -> None:
        self.rooms[room] = RoomState(cursor, joined_seq, filling)

    def exit(self, room: int) -> None:
        self.rooms.pop(room, None)

    # -- delivery --------------------------------------------------------------------------

    def deliver(self, room: int, seq: int, payload: bytes, frame: bytes, leaver: int = 0) -> None:
        """A live room event from the bus, built as a frame once for the room. `leaver`: the user
        whose membership the event ends (a leave, a kick, a ban), else 0. Runs once per delivery,
        hence `write` inlined where the hub's WebSocket frame is sent as is."""
        st = self.rooms.get(room)
        if st is None or seq <= st.cursor:
            return
        if st.filling:
            if seq > st.pending:
                st.pending = seq
        elif seq == st.cursor + 1:
            st.cursor = seq
            if not self.sends_frames:
                self.emit(payload, frame)
            elif self.state is State.OPEN:
                out = self._out
                out.append(frame)
                self._out_bytes += len(frame)
                if len(out) == 1:
                    self.host.schedule_flush(self)
            if leaver == self.user.id:
                self.host.leave(self, room)
        else:
            self.catch_up(room, seq)

    def catch_up(self, room: int, upto: int) -> None:
        """Read the room from the database until at least `upto` has been delivered."""
        st = self.rooms.get(room)
        if st is None:
            return
        if upto > st.pending:
            st.pending = upto
        if not st.filling:
            st.filling = True
            self.spawn(self._locked_fill(room, st))

    async def resume(self, cursors: dict[int, int], known: dict[int, int] | None = None) -> dict[int, int]:
        """Send every room's events after the client's cursors (from its join where none is given)
        and return the cursors then reached.

        Nothing this connection has sent is sent again. A cursor at or past where it started a
        room needs no rewind; an older one gets the events it lacks below that point, in order,
        after those already sent (hence after events sent live between `hello` and `resume`).
        `known`: ends of rooms read when they were already noting live events (`Hub.attach`), not
        read again."""
        async with self._fill_lock:
            known = known or {}
            missing = [room for room in self.rooms if room not in known]
            last = {**known, **(await self.host.last_seqs(missing) if missing else {})}
            plan = []
            for room, st in self.rooms.items():
                wanted = cursors.get(room, st.joined_at - 1)
                if wanted > st.cursor:
                    # A cursor beyond the room's end (say, from before a restore) is pulled back, so
                    # the client is told in `resumed` where it stands instead of silently missing events.
                    st.cursor = max(st.cursor, min(wanted, last.get(room, st.cursor)))
                st.filling = True
                plan.append((room, st, wanted))
            for room, st, wanted in plan:
                if wanted < st.floor:
                    await self._backfill(room, st, wanted)
                if st.cursor >= last.get(room, 0) and st.pending <= st.cursor:
                    # Nothing past the cursor: the end was read after the room began noting live
                    # events, so anything later is in `pending`. No read (a reconnect storm is
                    # mostly clients that missed nothing).
                    st.filling = False
                    continue
                await self._fill(room, st)
        return self.cursors

    async def idle(self) -> None:
        """Wait until the replays under way (and any other task of this connection) have ended."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def _holds(self, room: int, st: RoomState) -> bool:
        """Still open and in the room (not left, nor left and joined again, since `st` was read)."""
        return self.state is State.OPEN and self.rooms.get(room) is st

    async def _locked_fill(self, room: int, st: RoomState) -> None:
        async with self._fill_lock:
            if not st.filling:
                return
            try:
                await self._fill(room, st)
            except ParleyError as exc:
                # The database is away: the room stops filling with its `pending` kept, so the next
                # catch-up (a live event, the hub's sweep) starts the fill again from the cursor.
                st.filling = False
                log.warning("room %s: fill for user %s paused: %s", room, self.user.id, exc.message)

    async def _fill(self, room: int, st: RoomState) -> None:
        empty_reads = 0
        while self._holds(room, st):
            events = await self.host.replay(room, st.cursor, REPLAY_PAGE)
            for event in events:
                if not await self._paced() or not self._replay_one(room, st, event):
                    return
            if len(events) == REPLAY_PAGE:
                continue
            if st.pending <= st.cursor:
                st.filling = False
                return
            # A published event is committed, so it will be readable; a reader that lags gets a moment.
            empty_reads += 1
            if empty_reads > 40:
                log.warning("room %s: seq %s announced but not readable; giving up", room, st.pending)
                st.filling = False
                return
            await asyncio.sleep(0.05)

    async def _backfill(self, room: int, st: RoomState, after: int) -> None:
        """Send the events (after, floor]: what the client lacks below what this connection sent.
        They are history to it (a `member_left` among them is an old one), so only sent."""
        at = after
        while at < st.floor and self._holds(room, st):
            events = await self.host.replay(room, at, min(REPLAY_PAGE, st.floor - at))
            if not events:
                return
            for event in events:
                if not await self._paced() or not self._holds(room, st) or event.seq != at + 1:
                    return
                self.emit(wire.encode_event(event))
                at = event.seq
        st.floor = min(st.floor, after)

    async def _paced(self) -> bool:
        """True when the replay may write on (waiting for the client to read first if need be)."""
        return self._out_bytes <= self._replay_bound() or await self._drain()

    def _replay_bound(self) -> int:
        return max(16 * 1024, min(REPLAY_IN_FLIGHT, self._max_queue // 4))

    async def _drain(self) -> bool:
        """Hand what is queued to the socket, then wait until the client has read it down to the
        bound. False if the connection closed, or made no progress for REPLAY_STALL_S."""
        self.flush()
        bound, transport = self._replay_bound(), self._transport
        loop = asyncio.get_running_loop()
        lowest, since = transport.get_write_buffer_size(), loop.time()
        while self.state is State.OPEN and not transport.is_closing():
            size = transport.get_write_buffer_size()
            if size <= bound:
                return True
            if size < lowest:
                lowest, since = size, loop.time()
            elif loop.time() - since > REPLAY_STALL_S:
                log.warning("dropping stalled replay user=%s session=%s", self.user.id, self.session_id)
                self.state = State.CLOSED
                transport.abort()
                break
            await asyncio.sleep(0.01)
        return False

    def _replay_one(self, room: int, st: RoomState, event: Event) -> bool:
        if not self._holds(room, st) or event.seq != st.cursor + 1:
            return False
        st.cursor = event.seq
        self.emit(wire.encode_event(event))
        if (event.type in ENDS_MEMBERSHIP and event.seq > st.joined_at
                and event.data.get("user", {}).get("id") == self.user.id):
            self.host.leave(self, room)
            return False
        return True

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_tasks(self) -> None:
        for task in list(self._tasks or ()):
            task.cancel()
