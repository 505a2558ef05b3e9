"""One client connection: its cursors per room, and the replay that keeps delivery gap-free.

Delivery rule: a room event reaches the client only as `cursor + 1`. An event further ahead means
something was missed (a late or lost bus message, a resume, a fresh join): the room is then
*filling* — live events are only noted — while its events are read from the database in order.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from parley.core import wire
from parley.core.models import Event, EventType, User
from parley.realtime.frames import text_frame

if TYPE_CHECKING:
    from parley.realtime.hub import Hub

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


class State(enum.Enum):
    OPEN = 1
    CLOSED = 2


class Connection:
    def __init__(self, hub: Hub, user: User, session_id: int, transport: Transport,
                 close: Callable[[int, str], Awaitable[Any]], max_queue: int) -> None:
        self.hub = hub
        self.user = user
        self.session_id = session_id
        self._transport = transport
        self._close = close
        self._max_queue = max_queue
        self.state = State.OPEN
        self.cursors: dict[int, int] = {}
        self.joined_at: dict[int, int] = {}
        self.started_at: dict[int, int] = {}  # cursor this connection started each room from
        self.filling: set[int] = set()
        self._pending: dict[int, int] = {}
        self._fill_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._out: list[bytes] = []
        self._out_bytes = 0

    # -- writing -------------------------------------------------------------------------------

    def write(self, frame: bytes) -> None:
        """Queue a built frame. Frames queued in one turn of the event loop leave in one write
        (one system call per connection per turn, however many events the turn delivered)."""
        if self.state is not State.OPEN:
            return
        self._out.append(frame)
        self._out_bytes += len(frame)
        if len(self._out) == 1:
            self.hub.schedule_flush(self)

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
            self.state = State.CLOSED
            transport.abort()

    def emit(self, payload: bytes, frame: bytes | None = None) -> None:
        """Write one event: `payload` is its JSON, `frame` the WebSocket frame of it when the hub
        has built it already for every connection of the room."""
        self.write(frame if frame is not None else text_frame(payload))

    def send(self, frame: wire.ServerFrame) -> None:
        self.emit(wire.encode(frame))

    def write_error(self, code: str, message: str, ref: Any) -> None:
        self.emit(wire.error_frame(code, message, ref))

    async def close(self, code: int, reason: str) -> None:
        self.flush()
        if self.state is State.OPEN:
            self.state = State.CLOSED
            await self._close(code, reason)

    # -- room membership -------------------------------------------------------------------

    def enter(self, room: int, cursor: int, joined_seq: int) -> None:
        self.cursors[room] = cursor
        self.started_at[room] = cursor
        self.joined_at[room] = joined_seq

    def exit(self, room: int) -> None:
        self.cursors.pop(room, None)
        self.joined_at.pop(room, None)
        self.started_at.pop(room, None)
        self.filling.discard(room)
        self._pending.pop(room, None)

    # -- delivery --------------------------------------------------------------------------

    def deliver(self, room: int, seq: int, etype: str, subject: int, payload: bytes, frame: bytes) -> None:
        """A live room event from the bus."""
        cursor = self.cursors.get(room)
        if cursor is None or seq <= cursor:
            return
        if room in self.filling:
            self._pending[room] = max(self._pending.get(room, 0), seq)
        elif seq == cursor + 1:
            self.cursors[room] = seq
            self.emit(payload, frame)
            if etype == "member_left" and subject == self.user.id:
                self.hub.leave(self, room)
        else:
            self.catch_up(room, seq)

    def catch_up(self, room: int, upto: int) -> None:
        """Read the room from the database until at least `upto` has been delivered."""
        self._pending[room] = max(self._pending.get(room, 0), upto)
        if room not in self.filling:
            self.filling.add(room)
            self.spawn(self._locked_fill(room))

    async def resume(self, cursors: dict[int, int]) -> dict[int, int]:
        """Replay every room after the client's cursors (from its join where none is given).

        A cursor at or past where this connection started a room needs no rewind: what came
        since was sent here already. Only a client that missed events before it connected is
        rewound, and may then see again the few events sent live between `hello` and `resume`
        (connect with `?resume=` to avoid even those)."""
        async with self._fill_lock:
            # A cursor beyond the room's end (say, from before a restore) is pulled back, so the
            # client is told in `resumed` where it stands instead of silently missing events.
            last = await self.hub.last_seqs(list(self.cursors))
            for room in list(self.cursors):
                wanted = cursors.get(room, self.joined_at[room] - 1)
                if wanted >= self.started_at.get(room, 0):
                    wanted = max(wanted, self.cursors[room])
                self.cursors[room] = min(wanted, last.get(room, wanted))
                self.filling.add(room)
            for room in list(self.cursors):
                await self._fill(room)
        return dict(self.cursors)

    async def _locked_fill(self, room: int) -> None:
        async with self._fill_lock:
            if room in self.filling:
                await self._fill(room)

    async def _fill(self, room: int) -> None:
        empty_reads = 0
        while self.state is State.OPEN and room in self.cursors:
            events = await self.hub.replay(room, self.cursors[room], REPLAY_PAGE)
            for event in events:
                if self._out_bytes > self._replay_bound() and not await self._drain():
                    return
                if not self._replay_one(room, event):
                    return
            if len(events) == REPLAY_PAGE:
                continue
            if self._pending.get(room, 0) <= self.cursors.get(room, 0):
                self.filling.discard(room)
                self._pending.pop(room, None)
                return
            # A published event is committed, so it will be readable; a reader that lags gets a moment.
            empty_reads += 1
            if empty_reads > 40:
                log.warning("room %s: seq %s announced but not readable; giving up", room, self._pending.get(room))
                self.filling.discard(room)
                self._pending.pop(room, None)
                return
            await asyncio.sleep(0.05)

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

    def _replay_one(self, room: int, event: Event) -> bool:
        if room not in self.cursors or event.seq != self.cursors[room] + 1:
            return False
        self.cursors[room] = event.seq
        self.emit(wire.encode_event(event))
        if event.type is EventType.MEMBER_LEFT and event.data.get("user", {}).get("id") == self.user.id:
            self.hub.leave(self, room)
            return False
        return True

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
