"""The small interface every export adapter implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from parley.core.export import Record


class ExportUnavailable(Exception):
    """The destination cannot take records now (down, unreachable, refused): retry later."""


class Exporter(Protocol):
    name: str  # for logs: the scheme and host, never a password

    async def start(self) -> None:
        """Connect (again). Raises ExportUnavailable when the destination cannot be reached."""

    async def publish(self, records: Sequence[Record]) -> None:
        """Hand `records` over in the order given and return only once the destination has
        confirmed every one of them (RabbitMQ: publisher confirms). Raises ExportUnavailable if
        any is not confirmed; the caller then publishes them all again (at least once), after
        `start()`."""

    async def close(self) -> None: ...
