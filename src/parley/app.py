"""Composition root: the one module that picks adapters (store, bus) and wires the layers."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.engine import make_url

from parley.blobs.base import BlobStore
from parley.blobs.local import LocalBlobs
from parley.bus.base import Bus
from parley.bus.memory import MemoryBus
from parley.config import Settings
from parley.core import calls as call_rules
from parley.core.admin import Registration
from parley.core.errors import Invalid
from parley.core.privacy import DeletedMessages
from parley.core.ratelimit import Rate
from parley.core.spam import Policy as SpamPolicy
from parley.export.base import Exporter
from parley.realtime.calls import CallKeeper
from parley.realtime.hub import Hub
from parley.realtime.liveness import Liveness
from parley.realtime.slots import Slots
from parley.services.accounts import Accounts
from parley.services.actions import Actions
from parley.services.admin import Admin
from parley.services.audit import Audit
from parley.services.blocks import Blocks
from parley.services.bots import Bots
from parley.services.calls import Calls, CallSettings
from parley.services.deps import Deps, Limits
from parley.services.emitter import Emitter
from parley.services.export import Export, ExportOptions
from parley.services.messages import Messages
from parley.services.moderation import Moderation
from parley.services.presence import Presence
from parley.services.privacy import Privacy
from parley.services.reports import Reports
from parley.services.rooms import Rooms
from parley.services.search import Search
from parley.services.spam import Spam
from parley.services.support import Provider, Support
from parley.services.uploads import UploadLimits, Uploads
from parley.store.db import Database, is_sqlite
from parley.web import app as web_app
from parley.web.context import CTX, Context

log = logging.getLogger("parley")


class ConfigError(Exception):
    """A setting that cannot work; the message says what to use instead."""


def make_bus(settings: Settings) -> Bus:
    scheme = urlsplit(settings.broker_url).scheme
    if scheme == "memory":
        return MemoryBus()
    if scheme in ("redis", "rediss", "unix"):
        from parley.bus.redis import RedisBus

        try:
            return RedisBus(settings.broker_url)
        except ValueError as exc:
            raise ConfigError(f"PARLEY_BROKER_URL: {exc}") from None
    raise ConfigError(f"PARLEY_BROKER_URL {settings.broker_url!r}: use memory:// (one node) or redis://host:port")


def make_exporter(settings: Settings) -> Exporter | None:
    """The event stream's destination from PARLEY_EXPORT_URL (None: no stream)."""
    if not settings.export_url:
        return None
    scheme = urlsplit(settings.export_url).scheme
    if scheme in ("amqp", "amqps"):
        from parley.export.amqp import AmqpExporter

        try:
            return AmqpExporter(settings.export_url, settings.export_exchange)
        except ValueError as exc:
            raise ConfigError(f"PARLEY_EXPORT_URL: {exc}") from None
    if scheme == "memory":  # in-process, for tests: it keeps what it "published" in a list
        from parley.export.memory import MemoryExporter

        return MemoryExporter()
    raise ConfigError(f"PARLEY_EXPORT_URL {settings.export_url.split('@')[-1]!r}: use amqp://user:password@host:5672/ "
                      "(RabbitMQ), or leave it empty for no event stream")


def make_database(settings: Settings) -> Database:
    scheme = urlsplit(settings.database_url).scheme.split("+")[0]
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError(f"PARLEY_DATABASE_URL {settings.database_url!r}: use sqlite:///path or postgresql://...")
    if is_sqlite(settings.database_url) and urlsplit(settings.broker_url).scheme != "memory":
        raise ConfigError("PARLEY_DATABASE_URL points at SQLite, which one node only can use; "
                          "use postgresql:// for several nodes, or PARLEY_BROKER_URL=memory:// for one")
    return Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)


def make_blobs(settings: Settings) -> BlobStore:
    parts = urlsplit(settings.media_url)
    several_nodes = urlsplit(settings.broker_url).scheme != "memory"
    if parts.scheme == "file":
        if several_nodes and not settings.media_shared:
            raise ConfigError("PARLEY_MEDIA_URL is a local folder but PARLEY_BROKER_URL says several nodes: each "
                              "node would hold its own files. Use s3://bucket?endpoint=..., or a folder every "
                              "node mounts (NFS) declared with PARLEY_MEDIA_SHARED=1")
        return LocalBlobs(media_folder(settings), shared=settings.media_shared)
    if parts.scheme == "s3":
        from parley.blobs.s3 import S3Blobs

        try:
            return S3Blobs(settings.media_url)
        except ValueError as exc:
            raise ConfigError(f"PARLEY_MEDIA_URL: {exc}") from None
    raise ConfigError(f"PARLEY_MEDIA_URL {settings.media_url!r}: use file://path or s3://bucket?endpoint=...")


def media_folder(settings: Settings) -> str:
    parts = urlsplit(settings.media_url)
    return (parts.netloc + parts.path) or "var/media"


def make_upload_limits(settings: Settings) -> UploadLimits:
    spool = settings.media_spool
    if not spool:
        scheme = urlsplit(settings.media_url).scheme
        spool = os.path.join(media_folder(settings), "tmp") if scheme == "file" else os.path.join(
            tempfile.gettempdir(), "parley-spool")
    return UploadLimits(max_bytes=settings.max_upload_bytes, quota_bytes=settings.upload_quota_bytes, spool=spool)


def make_limits(settings: Settings) -> Limits:
    return Limits(
        max_text=settings.max_text,
        send_rate=Rate(settings.rate_limit_burst, settings.rate_limit_per_sec),
        bot_send_rate=Rate(settings.bot_rate_limit_burst, settings.bot_rate_limit_per_sec),
        action_rate=Rate(settings.rate_limit_burst * 3, settings.rate_limit_per_sec * 2),
        # search: the send limits when looser than its own floor
        search_rate=Rate(max(10, settings.rate_limit_burst), max(2.0, settings.rate_limit_per_sec)),
        call_rate=Rate(max(20, settings.rate_limit_burst * 2), max(0.5, settings.rate_limit_per_sec / 2)),
        login_rate=Rate(settings.login_rate_burst, 1 / 60),
        register_ip_rate=Rate(settings.register_rate_burst, 0.1),
        session_ttl_ms=settings.session_ttl_days * 86_400_000,
    )


def build(settings: Settings) -> Context:
    database = make_database(settings)  # first: it explains what SQLite with a shared broker needs
    bus = make_bus(settings)
    blobs = make_blobs(settings)
    deps = Deps(database, bus, make_limits(settings))
    emitter = Emitter(bus)
    spam = Spam(deps, emitter, make_spam_policy(settings), enabled=settings.spam)
    messages = Messages(deps, emitter, spam)
    spam.messages = messages
    presence = Presence(deps, emitter)
    uploads = Uploads(deps, emitter, blobs, make_upload_limits(settings))
    hub = Hub(bus, messages, presence,
              Slots(settings.max_connections_per_user, settings.max_connections_per_address))
    registration = Registration(settings.registration.lower())
    actions = Actions(deps, emitter, uploads)
    actions.learner = spam  # a moderator's "delete as spam" teaches the filter
    moderation = Moderation(deps, emitter, actions)
    reports = Reports(deps, emitter, actions, moderation=moderation, spam=spam)
    accounts = Accounts(deps, emitter, registration)
    exporter = make_exporter(settings)
    export = None
    if exporter is not None:
        # retries at most every lease / 3, so a node waiting for its broker still renews its lease in time
        export = Export(deps, exporter, bus.node_id, ExportOptions(
            lease_ms=settings.export_lease_s * 1000, retry_max=min(5.0, settings.export_lease_s / 3)))
        emitter.watchers.append(export.wake)
    privacy = Privacy(deps, emitter, accounts, uploads,
                      deleted_messages=DeletedMessages(settings.deleted_account_messages.lower()),
                      retention_days=settings.retention_days, sweep_every_s=settings.retention_sweep_s)
    rooms = Rooms(deps, emitter)
    provider = Provider(settings.assistant_url, settings.assistant_key, settings.assistant_model,
                        settings.assistant_timeout_s) if settings.assistant_url else None
    support = Support(deps, emitter, accounts, rooms, messages, actions, provider, settings.assistant_threshold)
    bots = Bots(deps, emitter, rooms, messages, allow_private=settings.webhook_allow_private,
                timeout_s=settings.webhook_timeout_s, retry_base_s=settings.webhook_retry_base_s,
                log_days=settings.webhook_log_days)
    bots.listen(support.hear)  # the assistant hears mentions and direct chats through the bot cursors
    calls = Calls(deps, emitter, make_call_settings(settings))
    return Context(settings=settings, db=deps.db, calls=calls, call_keeper=CallKeeper(hub, calls),
                   accounts=accounts, rooms=rooms, bots=bots,
                   messages=messages, presence=presence, hub=hub, actions=actions, uploads=uploads,
                   search=Search(deps), reports=reports, blocks=Blocks(deps), audit=Audit(deps), moderation=moderation,
                   spam=spam, privacy=privacy, admin=Admin(deps, emitter, registration),
                   support=support, export=export, liveness=Liveness(settings.ws_ping_s, settings.ws_timeout_s))


def make_call_settings(settings: Settings) -> CallSettings:
    try:
        static = call_rules.parse_ice_servers(settings.ice_servers)
        turn = call_rules.split_urls(settings.turn_urls)
    except Invalid as exc:
        raise ConfigError(exc.message) from None
    if turn and not settings.turn_secret:
        raise ConfigError("PARLEY_TURN_URLS needs PARLEY_TURN_SECRET (coturn's static-auth-secret)")
    return CallSettings(ice_servers=static, turn_urls=turn, turn_secret=settings.turn_secret,
                        turn_ttl_s=settings.turn_ttl, timeout_s=float(settings.call_timeout_s))


def make_spam_policy(settings: Settings) -> SpamPolicy:
    return SpamPolicy(hold=settings.spam_hold, reject=settings.spam_reject,
                      new_account_ms=settings.spam_new_account_s * 1000)


def claim_sqlite(settings: Settings) -> Any:
    """One serving process per SQLite file: a second one is refused with what to use instead.
    Returns the open lock file, to keep for the life of the process."""
    if not is_sqlite(settings.database_url) or ":memory:" in settings.database_url:
        return None
    path = make_url(settings.database_url).database or ""
    lock = open(f"{path}.serve-lock", "w")  # noqa: SIM115 - held until the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ConfigError(f"another parley serve already uses {path}; SQLite serves one node only. "
                          "For several nodes use PARLEY_DATABASE_URL=postgresql://... and "
                          "PARLEY_BROKER_URL=redis://...") from None
    return lock


def create_app(settings: Settings) -> web.Application:
    context = build(settings)
    app = web_app.create(context)

    async def _start(app: web.Application) -> None:
        await app[CTX].uploads.start()
        await app[CTX].hub.start()
        app[CTX].liveness.start()
        if settings.spam:
            await app[CTX].spam.ready()  # loads the model (trains it on a new database) before traffic
        await app[CTX].privacy.start()  # the retention sweep: now, then hourly
        await app[CTX].bots.start()  # the webhook dispatcher (issue 12)
        if app[CTX].export is not None:
            await app[CTX].export.start()  # the event stream: claims the lease, then publishes
        app[CTX].call_keeper.start()  # calls: this node's participants seen, the gone ones swept out
        log.info("parley node %s on %s with %s", context.hub.bus.node_id, settings.database_url.split("@")[-1],
                 settings.broker_url)

    async def _stop(app: web.Application) -> None:
        await app[CTX].bots.close()  # first: its listener (the assistant) starts no answer after this
        await app[CTX].support.close()
        if app[CTX].export is not None:
            await app[CTX].export.close()
        await app[CTX].call_keeper.close()
        await app[CTX].privacy.close()
        await app[CTX].liveness.close()
        await app[CTX].hub.close()
        await app[CTX].uploads.close()
        await app[CTX].db.close()

    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app
