"""Telling "the database is not there now" (retry later, HTTP 503) from a bug."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncpg
import sqlalchemy as sa

from parley.core.errors import Unavailable

_CONNECTION_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError, OSError, ConnectionError,
                      asyncpg.PostgresConnectionError, asyncpg.InterfaceError)
# SQLSTATE classes that mean "the server is not there for you now", not "your statement is wrong":
# 08 connection exceptions, 57P01-57P03 admin/crash shutdown and "cannot connect now" (starting up).
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03")


def is_outage(exc: BaseException) -> bool:
    """Whether an error means the database is unreachable (retry later) rather than a bug."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa.exc.TimeoutError):  # every pooled connection busy: overloaded, try again
        return True
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None and exc.orig is not exc:
        return is_outage(exc.orig)
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return bool(state) and state.startswith(_OUTAGE_STATES)


def unavailable(exc: BaseException) -> Unavailable:
    return Unavailable(f"the database is unavailable ({type(exc).__name__}); retry shortly")


@contextlib.contextmanager
def as_unavailable() -> Iterator[None]:
    """Let an unreachable database surface as Unavailable (HTTP 503, `unavailable` frame)."""
    try:
        yield
    except Exception as exc:
        if is_outage(exc):
            raise unavailable(exc) from exc
        raise
