"""What handlers reach through `request.app[CTX]`: settings and the services."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from parley.config import Settings
from parley.realtime.calls import CallKeeper
from parley.realtime.hub import Hub
from parley.realtime.liveness import Liveness
from parley.services.accounts import Accounts
from parley.services.actions import Actions
from parley.services.admin import Admin
from parley.services.audit import Audit
from parley.services.blocks import Blocks
from parley.services.bots import Bots
from parley.services.calls import Calls
from parley.services.export import Export
from parley.services.messages import Messages
from parley.services.moderation import Moderation
from parley.services.presence import Presence
from parley.services.privacy import Privacy
from parley.services.reports import Reports
from parley.services.rooms import Rooms
from parley.services.search import Search
from parley.services.spam import Spam
from parley.services.support import Support
from parley.services.uploads import Uploads
from parley.store.db import Database


@dataclass
class Context:
    settings: Settings
    db: Database
    accounts: Accounts
    rooms: Rooms
    bots: Bots
    messages: Messages
    presence: Presence
    hub: Hub
    uploads: Uploads
    actions: Actions
    search: Search
    reports: Reports
    blocks: Blocks
    audit: Audit
    moderation: Moderation
    spam: Spam
    privacy: Privacy
    admin: Admin
    support: Support
    calls: Calls
    call_keeper: CallKeeper
    export: Export | None = None  # the event stream (PARLEY_EXPORT_URL), when set
    liveness: Liveness = field(default_factory=Liveness)  # the WebSockets' ping sweep (issue 14)


CTX: web.AppKey[Context] = web.AppKey("parley", Context)
