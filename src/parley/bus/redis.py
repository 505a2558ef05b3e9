"""The several-node bus over Redis.

Pub/sub is at-most-once, so it is only a wake-up: a message lost while Redis restarts or a
subscription is being set up is found by the hub's gap checks against the database (`resync`).
Each published message carries the publisher's node id; a node delivers its own messages
locally at once and skips their echo from Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import struct
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from parley.bus._redis_buckets import SYNC, SharedBuckets
from parley.bus._redis_outbox import NODE_ID_BYTES, Outbox, unpack
from parley.bus.base import BusMessage, Handler, Kind
from parley.bus.memory import MemoryBus
from parley.core import metrics
from parley.core.ratelimit import Rate, bucket_id

log = logging.getLogger(__name__)
PREFIX = "parley:"
NODE_TTL_MS = 15_000  # a node silent this long is dead: its users stop counting as online
HEARTBEAT_S = 5.0

# Presence: KEYS[1] the user's hash of node -> connections; ARGV node prefix, this node, delta.
# Returns the user's connections on live nodes after the change.
_PRESENCE = """
if ARGV[3] ~= '0' then
  local n = redis.call('HINCRBY', KEYS[1], ARGV[2], ARGV[3])
  if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[2]) end
end
local all = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[1] .. all[i]) == 1 then total = total + tonumber(all[i + 1]) end
end
return total
"""


# The spam filter's cross-room signal: KEYS one sorted set per (sender, text) of room -> ms.
# _POSTED: ARGV window_ms; returns each key's rooms within the window. _NOTE: ARGV window_ms, then
# one room per key; records them now (Redis's clock, the same for every node).
_POSTED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('ZRANGEBYSCORE', key, now - tonumber(ARGV[1]), '+inf')
end
return out
"""
_NOTE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window - 1)
  redis.call('PEXPIRE', key, window)
end
return 0
"""
_TS = re.compile(rb'"ts":(\d+)')


def _observe_lag(payload: bytes) -> None:
    """Commit-to-arrival lag of a room event from another node (its `ts`, in ms; clocks in sync)."""
    found = _TS.search(payload, 0, 400)
    if found is not None:
        metrics.BUS_RECEIVE_LAG.observe(max(0.0, time.time() - int(found.group(1)) / 1000))


class RedisBus:
    lossy = True

    def __init__(self, url: str) -> None:
        self.node_id = uuid.uuid4().hex[:12]
        self._id = self.node_id.encode()
        url, namespace = _split_namespace(url)
        # Pub/sub channels ignore the database number: a namespace keeps two deployments on one
        # Redis apart (redis://host:6379/0?namespace=staging).
        self.prefix = f"{PREFIX}{namespace}:" if namespace else PREFIX
        self.redis = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                             health_check_interval=10)
        self._pubsub = self.redis.pubsub()
        self._local = MemoryBus()  # local delivery and the fallback buckets while Redis is away
        self._channels: set[str] = set()
        self._handler: Handler | None = None
        self._resync: Callable[[list[str] | None], None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._counts: dict[int, int] = {}  # this node's connections per user, to restore after a Redis restart
        self._outbox = Outbox(self.redis, self.prefix, self._id)
        self._buckets = SharedBuckets(self.redis.register_script(SYNC), self.prefix + "nodes", NODE_TTL_MS)
        self._presence = self.redis.register_script(_PRESENCE)
        self._posted = self.redis.register_script(_POSTED)
        self._note = self.redis.register_script(_NOTE)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, handler: Handler, resync: Callable[[list[str] | None], None] | None = None) -> None:
        self._handler = handler
        self._resync = resync
        await self._local.start(handler)
        await self._beat()
        await self._pubsub.subscribe(self.prefix + "node:" + self.node_id)  # keeps the reader listening
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._heartbeat()),
                       asyncio.create_task(self._reconcile())]

    async def close(self) -> None:
        await self._outbox.close()
        with contextlib.suppress(RedisError, OSError):
            await self._buckets.reconcile()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(RedisError, OSError):
            await self.redis.zrem(self.prefix + "nodes", self.node_id)
            await self.redis.delete(self.prefix + "node:" + self.node_id)
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    # -- pub/sub ---------------------------------------------------------------------------

    async def publish(self, channel: str, message: BusMessage) -> None:
        """Delivered here at once; queued for the other nodes, sent with the rest of this loop
        turn's messages in one round trip (`Outbox`)."""
        await self._local.publish(channel, message)
        self._outbox.put(channel, message.encode())

    async def flush(self) -> None:
        await self._outbox.flush()

    def subscribe(self, channel: str) -> None:
        self._local.subscribe(channel)
        if channel not in self._channels:
            self._channels.add(channel)
            self._spawn(self._pubsub.subscribe(self.prefix + channel))

    def unsubscribe(self, channel: str) -> None:
        self._local.unsubscribe(channel)
        if channel in self._channels:
            self._channels.discard(channel)
            self._spawn(self._pubsub.unsubscribe(self.prefix + channel))

    def _spawn(self, coro: Any) -> None:
        async def run() -> None:
            try:
                await coro
            except (RedisError, OSError) as exc:  # the reader reconnects and resubscribes everything
                log.info("Redis subscription change deferred: %s", exc)

        task = asyncio.create_task(run())
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _read(self) -> None:
        backoff, lost = 0.1, False
        while True:
            try:
                if lost:
                    await self._recover()
                    lost, backoff = False, 0.1
                message = await self._pubsub.get_message(timeout=1.0)
                if message is not None:
                    self._dispatch(message)
            except (RedisError, OSError) as exc:
                if not lost:
                    log.warning("Redis connection lost (%s); reconnecting", exc)
                lost = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _recover(self) -> None:
        """Back after an outage (Redis may have restarted empty): resubscribe, beat, put presence
        back, and have the hub check the database for whatever pub/sub lost meanwhile."""
        await self._pubsub.connect()  # resubscribes every channel
        await self._beat()
        await self._restore_presence()
        log.warning("Redis connection restored")
        if self._resync is not None:
            self._resync(None)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = message["channel"].decode()[len(self.prefix):]
        if kind == "subscribe" and self._resync is not None and channel in self._channels:
            # Anything published before the subscription took effect was missed.
            self._resync([channel])
        elif kind == "message" and self._handler is not None:
            data: bytes = message["data"]
            if data[:NODE_ID_BYTES] != self._id and channel in self._channels:
                try:
                    decoded = [BusMessage.decode(frame) for frame in unpack(data)]
                except (ValueError, struct.error):  # a node of another version: the database has it
                    log.warning("unreadable bus message on %s (all nodes must run one version)", channel)
                    if self._resync is not None:
                        self._resync([channel])
                    return
                metrics.COUNTS.bus_received += len(decoded)
                for one in decoded:
                    if one.kind is Kind.ROOM_EVENT:
                        _observe_lag(one.payload)
                    self._handler(channel, one)

    # -- node liveness -----------------------------------------------------------------------

    async def _beat(self) -> None:
        now = int(time.time() * 1000)
        async with self.redis.pipeline() as pipe:
            pipe.set(self.prefix + "node:" + self.node_id, 1, px=NODE_TTL_MS)
            pipe.zadd(self.prefix + "nodes", {self.node_id: now})
            await pipe.execute()

    async def _restore_presence(self) -> None:
        """Redis keeps nothing across a restart: put this node's connection counts back."""
        if not self._counts:
            return
        async with self.redis.pipeline() as pipe:
            for user, count in self._counts.items():
                pipe.hset(self.prefix + f"presence:{user}", self.node_id, count)
            pipe.sadd(self.prefix + "node-users:" + self.node_id, *self._counts)
            await pipe.execute()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            with contextlib.suppress(RedisError, OSError):
                restarted = not await self.redis.exists(self.prefix + "node:" + self.node_id)
                await self._beat()
                if restarted:  # our liveness key vanished: Redis restarted or was flushed
                    await self._restore_presence()

    async def _reconcile(self) -> None:
        while True:
            try:
                await self._buckets.run()
            except (RedisError, OSError) as exc:  # kept; written back once Redis is there again
                log.info("writing rate buckets back to Redis deferred: %s", exc)
                await asyncio.sleep(HEARTBEAT_S / 5)

    async def dead_node_users(self) -> list[int]:
        """Forget nodes that stopped beating; returns the users that had connections there.
        One node claims each dead node, so each is reaped once."""
        try:
            return await self._reap(int(time.time() * 1000) - NODE_TTL_MS)
        except (RedisError, OSError) as exc:
            log.info("reaping dead nodes deferred: %s", exc)
            return []

    async def _reap(self, cutoff: int) -> list[int]:
        users: list[int] = []
        for raw in await self.redis.zrangebyscore(self.prefix + "nodes", "-inf", cutoff):
            node = raw.decode()
            if node == self.node_id or not await self.redis.set(self.prefix + "reap:" + node, self.node_id,
                                                                 nx=True, ex=60):
                continue
            members_key = self.prefix + "node-users:" + node
            ids = [int(u) for u in await self.redis.smembers(members_key)]
            async with self.redis.pipeline() as pipe:
                for user in ids:
                    pipe.hdel(self.prefix + f"presence:{user}", node)
                pipe.delete(members_key)
                pipe.zrem(self.prefix + "nodes", node)
                await pipe.execute()
            users += ids
        return users

    # -- shared state ----------------------------------------------------------------------

    def bucket_key(self, key: str) -> str:
        """Fixed-size, whatever the key holds (a name, a forwarded address)."""
        return self.prefix + "rl:" + bucket_id(key).hex()

    async def hit(self, key: str, rate: Rate, cost: float = 1.0) -> float:
        """This node's share of the bucket first, Redis when it is spent (`SharedBuckets`)."""
        bucket = self.bucket_key(key)
        if self._buckets.local(bucket, rate, cost):
            return 0.0
        try:
            return await self._buckets.ask(bucket, rate, cost)
        except (RedisError, OSError):
            return await self._local.hit(key, rate, cost)  # per node until Redis is back

    async def refund(self, key: str, rate: Rate, amount: float = 1.0) -> None:
        try:
            await self._buckets.refund(self.bucket_key(key), rate, amount)
        except (RedisError, OSError):
            await self._local.refund(key, rate, amount)

    async def rooms_posted(self, keys: list[str], window_ms: int) -> list[set[int]]:
        if not keys:
            return []
        try:
            found = await self._posted(keys=[self.prefix + "posted:" + k for k in keys], args=[window_ms])
        except (RedisError, OSError):
            return await self._local.rooms_posted(keys, window_ms)  # per node until Redis is back
        return [{int(room) for room in rooms} for rooms in found]

    async def note_posted(self, entries: list[tuple[str, int]], window_ms: int) -> None:
        if not entries:
            return
        try:
            await self._note(keys=[self.prefix + "posted:" + k for k, _ in entries],
                             args=[window_ms, *(room for _, room in entries)])
        except (RedisError, OSError):
            await self._local.note_posted(entries, window_ms)

    async def presence_change(self, user_id: int, delta: int) -> bool:
        key = self.prefix + f"presence:{user_id}"
        count = self._counts.get(user_id, 0) + delta
        if count > 0:
            self._counts[user_id] = count
        else:
            self._counts.pop(user_id, None)
        try:
            if delta > 0:
                await self.redis.sadd(self.prefix + "node-users:" + self.node_id, user_id)
            total = int(await self._presence(keys=[key], args=[self.prefix + "node:", self.node_id, delta]))
        except (RedisError, OSError):
            return await self._local.presence_change(user_id, delta)
        return total == (1 if delta > 0 else 0)

    async def online(self, user_ids: list[int]) -> set[int]:
        try:
            async with self.redis.pipeline() as pipe:
                for user in user_ids:
                    await self._presence(keys=[self.prefix + f"presence:{user}"],
                                         args=[self.prefix + "node:", self.node_id, 0], client=pipe)
                totals = await pipe.execute()
        except (RedisError, OSError):
            return await self._local.online(user_ids)
        return {u for u, n in zip(user_ids, totals, strict=True) if int(n) > 0}


def _split_namespace(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    namespace = query.pop("namespace", [""])[0]
    if namespace and not namespace.replace("-", "").replace("_", "").isalnum():
        raise ValueError("the Redis namespace may hold letters, digits, '-' and '_' only")
    rest = urlencode({k: v[0] for k, v in query.items()})
    return urlunsplit(parts._replace(query=rest)), namespace
