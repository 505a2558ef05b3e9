"""Helpers for the contract tests: real services on a migrated database, users, raw log reads."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from parley.app import build
from parley.config import Settings
from parley.core.errors import ParleyError
from parley.core.models import MemberState, User
from parley.store import migrate
from parley.store import rooms as room_store
from parley.store import users as user_store
from parley.store.tables import events
from parley.web.context import Context

PASSWORD = "lantern-Orchid-7-quay"


async def open_context(url: str, **settings: Any) -> Context:
    """Migrate `url` to head and build every service on it (MemoryBus), with send limits out of the way."""
    await migrate.upgrade(url)
    values: dict[str, Any] = {"rate_limit_burst": 1e6, "rate_limit_per_sec": 1e6, **settings}
    return build(Settings(database_url=url, **values))


@contextlib.asynccontextmanager
async def media_context(url: str, folder: Path, **settings: Any) -> AsyncIterator[Context]:
    """`open_context` with a media folder under `folder` and the uploads service started (no hourly
    collection), closed afterwards."""
    context = await open_context(url, media_url=f"file://{folder}/media", **settings)
    await context.uploads.start(collect=False)
    try:
        yield context
    finally:
        await context.uploads.close()
        await close_context(context)


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    """A file's bytes as an upload receives them."""
    yield data


async def close_context(ctx: Context) -> None:
    flushing = ctx.messages._flushing
    if flushing is not None:
        await asyncio.gather(flushing, return_exceptions=True)
    await ctx.hub.close()
    await ctx.db.close()


async def register(ctx: Context, *usernames: str, **display: str) -> list[User]:
    """Register users (argon2 runs in threads); display names by keyword, if any. On an empty server
    the first name registers alone, so that it is the one the server admin (first account) is."""
    first = []
    async with ctx.db.read() as conn:
        if not await user_store.count_users(conn) and usernames:
            first = [await ctx.accounts.register(usernames[0], PASSWORD, display.get(usernames[0]))]
    pairs = first + list(await asyncio.gather(*(ctx.accounts.register(name, PASSWORD, display.get(name))
                                                for name in usernames[len(first):])))
    return [user for user, _token in pairs]


async def warm_pool(ctx: Context, user: User, room_id: int, connections: int = 8) -> None:
    """Open several pooled connections, so that racing calls really overlap instead of queueing
    behind connection set-up."""
    await asyncio.gather(*(ctx.rooms.get(user, room_id) for _ in range(connections)))


async def outcome(call: Awaitable[Any]) -> str:
    """'ok', or the code of the ParleyError the call raised."""
    try:
        await call
    except ParleyError as exc:
        return exc.code
    return "ok"


async def set_state(ctx: Context, room_id: int, user: User, state: MemberState) -> None:
    """Write a membership state no service produces (used for direct chats, which cannot be left)."""
    async with ctx.db.write() as conn:
        await room_store.set_state(conn, room_id, user.id, state, 0)


async def log_rows(ctx: Context, room_id: int | None = None) -> list[sa.Row]:
    """Every stored event (of one room), ordered by room and seq."""
    stmt = sa.select(events.c.id, events.c.room_id, events.c.seq, events.c.type, events.c.sender_id,
                     events.c.text, events.c.client_msg_id)
    if room_id is not None:
        stmt = stmt.where(events.c.room_id == room_id)
    async with ctx.db.read() as conn:
        return list((await conn.execute(stmt.order_by(events.c.room_id, events.c.seq))).all())


async def message_count(ctx: Context) -> int:
    async with ctx.db.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(events)
                                     .where(events.c.type == "message")) or 0)


async def whole_history(ctx: Context, user: User, room_id: int) -> list[dict[str, Any]]:
    """The room's full log as `user` reads it, paging forward."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await ctx.messages.history(user, room_id, after=after, limit=100)
        out += page["messages"]
        if not page["has_more"]:
            return out
        after = out[-1]["seq"]
