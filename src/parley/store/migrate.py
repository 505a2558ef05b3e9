"""Apply Alembic migrations programmatically (`parley db upgrade`, tests, `make run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from parley.store.db import async_url

SCRIPTS = Path(__file__).with_name("migrations")


def _config(connection: Any) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(url: str, revision: str = "head") -> None:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync_conn: command.upgrade(_config(sync_conn), revision))
    finally:
        await engine.dispose()


async def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    finally:
        await engine.dispose()
