"""Contract fixtures: every test here runs once on SQLite and once on PostgreSQL (`database_url`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parley.web.context import Context
from tests.contract.helpers import close_context, open_context


@pytest.fixture
async def ctx(database_url: str) -> AsyncIterator[Context]:
    """The real services, built by `parley.app.build`, on a freshly migrated database."""
    context = await open_context(database_url)
    try:
        yield context
    finally:
        await close_context(context)
