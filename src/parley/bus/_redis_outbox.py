"""Publishing to Redis in batches: what a node publishes within one loop turn goes out in one round
trip, one `PUBLISH` per channel carrying all of that channel's messages.

A Redis message is the publisher's node id (12 bytes), then frames of a 4-byte length and an
encoded `BusMessage`. A receiving node reads one pub/sub message per channel and loop turn of the
publisher, however many events it carries: redis-py's read costs more than the rest of the hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Iterator
from typing import Any

from redis.exceptions import RedisError

from parley.core import metrics

log = logging.getLogger(__name__)
_LENGTH = struct.Struct("!I")
NODE_ID_BYTES = 12


def pack(node_id: bytes, frames: list[bytes]) -> bytes:
    parts = [node_id]
    for frame in frames:
        parts.append(_LENGTH.pack(len(frame)))
        parts.append(frame)
    return b"".join(parts)


def unpack(data: bytes) -> Iterator[bytes]:
    """The frames of one Redis message (after its node id)."""
    pos, end = NODE_ID_BYTES, len(data)
    while pos < end:
        (size,) = _LENGTH.unpack_from(data, pos)
        pos += _LENGTH.size
        yield data[pos:pos + size]
        pos += size


class Outbox:
    """Queues encoded messages per channel; a task started on the first one sends the queue on
    the next loop turn, and again whatever came meanwhile, in order: one sender at a time keeps
    each channel's messages in the order they were published."""

    def __init__(self, redis: Any, prefix: str, node_id: bytes) -> None:
        self._redis = redis
        self._prefix = prefix
        self._node_id = node_id
        self._queue: dict[str, list[bytes]] = {}
        self._task: asyncio.Task[None] | None = None
        self.round_trips = 0  # batches sent (the tests count them against the publishes)

    def put(self, channel: str, frame: bytes) -> None:
        frames = self._queue.get(channel)
        if frames is None:
            self._queue[channel] = [frame]
        else:
            frames.append(frame)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def flush(self) -> None:
        """Return once everything put so far has been sent (or given up on)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def close(self, timeout: float = 2.0) -> None:
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(self.flush(), timeout)
        if self._task is not None:
            self._task.cancel()

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, {}
                await self._send(batch)
        finally:
            self._task = None

    async def _send(self, batch: dict[str, list[bytes]]) -> None:
        started = time.perf_counter()
        try:
            if len(batch) == 1:  # a pipeline costs more than one command in redis-py
                [(channel, frames)] = batch.items()
                await self._redis.publish(self._prefix + channel, pack(self._node_id, frames))
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel, frames in batch.items():
                        pipe.publish(self._prefix + channel, pack(self._node_id, frames))
                    await pipe.execute()
            self.round_trips += 1
            metrics.BUS_PUBLISH.observe(time.perf_counter() - started)
        except (RedisError, OSError) as exc:
            # Committed already; the other nodes find it in the database on their next resync.
            log.warning("publish to Redis failed (%s); other nodes will catch up from the database", exc)
