"""An in-memory export destination: what is confirmed is kept in a list. One process only; the
unit tests of the cursor use it, and it can be taken down and brought back like a broker."""

from __future__ import annotations

from collections.abc import Sequence

from parley.core.export import Record
from parley.export.base import ExportUnavailable


class MemoryExporter:
    name = "memory://"

    def __init__(self) -> None:
        self.confirmed: list[Record] = []
        self.up = True
        self.connected = False
        self.fail_after: int | None = None  # take this many more records, then fail mid-batch
        self.starts = 0  # connection attempts

    async def start(self) -> None:
        self.starts += 1
        if not self.up:
            raise ExportUnavailable("memory destination is down")
        self.connected = True

    async def publish(self, records: Sequence[Record]) -> None:
        if not (self.up and self.connected):
            self.connected = False
            raise ExportUnavailable("memory destination is down")
        for record in records:
            if self.fail_after is not None:
                if self.fail_after <= 0:  # a broker that went away mid-batch: some got through
                    self.up = self.connected = False
                    self.fail_after = None
                    raise ExportUnavailable("memory destination went down")
                self.fail_after -= 1
            self.confirmed.append(record)

    async def close(self) -> None:
        self.connected = False
