"""What every service is built from."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from parley.bus.base import Bus
from parley.core.ratelimit import Rate
from parley.store.db import Database


def wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Limits:
    max_text: int = 4000
    send_rate: Rate = Rate(burst=10, per_second=1.0)
    bot_send_rate: Rate = Rate(burst=30, per_second=5.0)  # bots (issue 12): PARLEY_BOT_RATE_*
    hook_rate: Rate = Rate(burst=10, per_second=1.0)  # posts per incoming webhook
    typing_rate: Rate = Rate(burst=5, per_second=1.0)
    # edits, deletes, reactions and pins, per user: reactions come in quick bursts
    action_rate: Rate = Rate(burst=30, per_second=2.0)
    # reports, per reporter: a few at once, then one every 30 s, so no one floods the moderators
    report_rate: Rate = Rate(burst=10, per_second=1 / 30)
    search_rate: Rate = Rate(burst=10, per_second=2.0)
    # calls (issue 13): starts, joins, ends, declines and ICE server requests per user
    call_rate: Rate = Rate(burst=20, per_second=0.5)  # a search is the costliest read there is
    login_rate: Rate = Rate(burst=5, per_second=1 / 60)
    login_ip_rate: Rate = Rate(burst=30, per_second=0.5)
    register_ip_rate: Rate = Rate(burst=10, per_second=1 / 60)
    # Password hashes in flight in this process (login, registration, password change): per
    # address, as many as a classroom behind one NAT plausibly starts at once; per account, a
    # double click.
    hashes_per_address: int = 8
    hashes_per_account: int = 2
    session_ttl_ms: int = 30 * 86_400_000
    batch_max: int = 500


@dataclass(frozen=True)
class Deps:
    db: Database
    bus: Bus
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], int] = wall_ms
