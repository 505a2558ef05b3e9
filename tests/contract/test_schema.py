"""Migrations build exactly the schema the code describes, on every store."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from parley.store import migrate
from parley.store.db import async_url
from parley.store.search import SQLITE_ONLY
from parley.store.tables import metadata
from tests.contract.helpers import PASSWORD, close_context, open_context


def _head() -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.SCRIPTS))
    return ScriptDirectory.from_config(cfg).get_current_head()


async def _inspect(url: str) -> tuple[list[Any], set[str]]:
    """(autogenerate diff against `metadata`, table names in the database)."""

    def run(sync_conn: sa.Connection) -> tuple[list[Any], set[str]]:
        def include_name(name: str | None, type_: str, _parents: Any) -> bool:
            # SQLite's search index is an FTS5 virtual table with shadow tables: checked below by name.
            return not (sqlite and type_ == "table" and name in SQLITE_ONLY)

        def include_object(obj: Any, name: str | None, type_: str, _reflected: bool, _other: Any) -> bool:
            table = obj if type_ == "table" else getattr(obj, "table", None)
            return not (sqlite and table is not None and table.name in SQLITE_ONLY)

        sqlite = sync_conn.dialect.name == "sqlite"
        context = MigrationContext.configure(sync_conn, opts={
            "compare_type": True, "include_name": include_name, "include_object": include_object})
        return compare_metadata(context, metadata), set(sa.inspect(sync_conn).get_table_names())

    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(run)
    finally:
        await engine.dispose()


async def test_migrations_produce_exactly_the_metadata_schema(database_url: str) -> None:
    await migrate.upgrade(database_url)
    diff, tables = await _inspect(database_url)
    assert diff == []
    expected = set(metadata.tables) | {"alembic_version"}
    assert tables == (expected | SQLITE_ONLY if database_url.startswith("sqlite") else expected)
    assert await migrate.current(database_url) == _head()


async def test_upgrade_twice_is_harmless(database_url: str) -> None:
    ctx = await open_context(database_url)
    try:
        user, _ = await ctx.accounts.register("ann", PASSWORD)
        room = await ctx.rooms.create(user, "general")
        await ctx.messages.send(user, room["id"], "kept across upgrades")
    finally:
        await close_context(ctx)

    await migrate.upgrade(database_url)
    await migrate.upgrade(database_url)
    diff, _ = await _inspect(database_url)
    assert diff == []
    assert await migrate.current(database_url) == _head()

    ctx = await open_context(database_url)
    try:
        again, _ = await ctx.accounts.login("ann", PASSWORD)
        assert again.id == user.id
        page = await ctx.messages.history(again, room["id"])
        assert [m["type"] for m in page["messages"]] == ["room_created", "member_joined", "message"]
        assert page["messages"][-1]["text"] == "kept across upgrades"
    finally:
        await close_context(ctx)
