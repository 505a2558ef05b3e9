"""The node's share of keeping calls honest (issue 13): it says which participant connections it
still holds (`seen_at`), and sweeps out the ones no node has seen for PARLEY_CALL_TIMEOUT_S: a
socket that never came back, or a node that died. Any node's sweep ends the calls left empty."""

from __future__ import annotations

import asyncio
import logging

from parley.core.errors import ParleyError
from parley.realtime.hub import Hub
from parley.services.calls import Calls

log = logging.getLogger(__name__)


class CallKeeper:
    def __init__(self, hub: Hub, calls: Calls) -> None:
        self.hub = hub
        self.calls = calls
        self.every_s = max(0.5, calls.settings.timeout_s / 3)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def tick(self) -> int:
        await self.calls.heartbeat(sorted(self.hub.peers))
        return await self.calls.sweep()

    async def _loop(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.tick()
                failing = False
            except ParleyError as exc:
                if not failing:
                    log.warning("call upkeep skipped: %s", exc.message)
                failing = True
            except Exception:
                log.exception("call upkeep failed")
