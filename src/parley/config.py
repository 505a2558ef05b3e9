"""Settings: defaults that work on a laptop, overridden by PARLEY_* variables, then by flags."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Settings:
    host: str = field(default="127.0.0.1", metadata={"help": "address to listen on"})
    port: int = field(default=8000, metadata={"help": "port to listen on", "min": 0, "max": 65535})
    database_url: str = field(default="sqlite:///var/parley.db", metadata={
        "help": "sqlite:///path (one node) or postgresql://user@host/db (one or many nodes)"})
    broker_url: str = field(default="memory://", metadata={
        "help": "memory:// (one node) or redis://host:port/db (several nodes)"})
    allowed_origins: str = field(default="", metadata={
        "help": "comma-separated extra browser origins allowed on /ws and for cookie writes; "
                "the server's own origin is always allowed"})
    max_text: int = field(default=4000, metadata={"help": "longest message text, in characters", "min": 1,
                                                  "max": 1_000_000})
    rate_limit_burst: float = field(default=10, metadata={"help": "messages a user may send at once", "min": 1})
    rate_limit_per_sec: float = field(default=1.0, metadata={"help": "sustained messages per second per user",
                                                             "min": 1e-6})
    login_rate_burst: float = field(default=5, metadata={
        "help": "failed logins allowed per account and address, and wrong current passwords per user, before "
                "throttling (1 more per minute)", "min": 1})
    register_rate_burst: float = field(default=30, metadata={
        "help": "accounts one address may register at once (then 6 a minute); a classroom behind one NAT "
                "needs this high", "min": 1})
    ws_max_queue_bytes: int = field(default=1 << 20, metadata={
        "help": "bytes queued for a connection that does not read before it is dropped", "min": 1024})
    ws_ping_s: float = field(default=20.0, metadata={
        "help": "seconds a WebSocket may stay silent before the server pings it (browsers send their own ping "
                "every 15 s, so only other clients are pinged)", "min": 0.05, "max": 3600})
    ws_timeout_s: float = field(default=45.0, metadata={
        "help": "seconds of silence (no frame, no pong) after which a WebSocket is taken for dead and closed; "
                "more than PARLEY_WS_PING_S", "min": 0.1, "max": 86400})
    max_connections_per_user: int = field(default=20, metadata={
        "help": "WebSocket and SSE connections one user may hold open, counted per node", "min": 1})
    max_connections_per_address: int = field(default=200, metadata={
        "help": "WebSocket and SSE connections one client address may hold open, counted per node, "
                "including sockets not yet authenticated; behind a proxy set PARLEY_TRUST_PROXY so "
                "that addresses are the clients'", "min": 1})
    listen_backlog: int = field(default=4096, metadata={
        "help": "connections the kernel queues for accept (capped by net.core.somaxconn): a reconnect storm "
                "beyond it has its SYNs dropped and retried by the clients seconds later", "min": 1,
        "max": 65535})
    session_ttl_days: int = field(default=30, metadata={"help": "days a login stays valid", "min": 1,
                                                        "max": 36500})
    sqlite_synchronous: str = field(default="FULL", metadata={
        "help": "SQLite synchronous pragma: FULL survives power loss, NORMAL only process crashes",
        "choices": ("OFF", "NORMAL", "FULL", "EXTRA")})
    trust_proxy: bool = field(default=False, metadata={
        "help": "take the client address from X-Forwarded-For (behind nginx), when the peer is a trusted proxy"})
    trusted_proxies: str = field(default="127.0.0.0/8,::1", metadata={
        "help": "comma-separated addresses or CIDR networks of the proxies whose X-Forwarded-For, "
                "-Proto and -Host are believed (with PARLEY_TRUST_PROXY)"})
    media_url: str = field(default="file://./var/media", metadata={
        "help": "where uploaded files live: file://path (a local folder; content-addressed) or "
                "s3://bucket?endpoint=https://host:port&region=... (several nodes; AWS_* credentials)"})
    media_shared: bool = field(default=False, metadata={
        "help": "declare a file:// media folder shared by every node (NFS...): several nodes refuse a local "
                "folder without it"})
    media_spool: str = field(default="", metadata={
        "help": "local folder for files being received (default: <media folder>/tmp, or the system's "
                "temporary folder with s3://)"})
    max_upload_bytes: int = field(default=25 * 1024 * 1024, metadata={
        "help": "largest file one upload may be, in bytes (the file itself, not the request)", "min": 1})
    upload_quota_bytes: int = field(default=1024 * 1024 * 1024, metadata={
        "help": "bytes of uploads one user may keep (every file counts, until deleted)", "min": 1})
    spam: bool = field(default=True, metadata={
        "help": "score every message with the spam filter (on) or not (off); see docs/operations.md"})
    spam_hold: float = field(default=0.5, metadata={
        "help": "spam score (0-1) from which a message is held for a moderator's review", "min": 0.0, "max": 1.0})
    spam_reject: float = field(default=0.99, metadata={
        "help": "spam score (0-1) from which a message is refused outright (above 1: never)", "min": 0.0,
        "max": 1.01})
    spam_new_account_s: int = field(default=86_400, metadata={
        "help": "accounts younger than this many seconds that post links count as a spam signal", "min": 0})
    deleted_account_messages: str = field(default="keep", metadata={
        "help": "what becomes of a deleted account's messages: keep (shown under a deleted-user placeholder) "
                "or erase (tombstones, as if each had been deleted)", "choices": ("KEEP", "ERASE")})
    retention_days: int = field(default=0, metadata={
        "help": "days rooms keep messages unless a room sets its own retention_days (0: forever); older "
                "ones are erased in place by the retention sweep", "min": 0, "max": 36500})
    retention_sweep_s: int = field(default=3600, metadata={
        "help": "seconds between two retention sweeps (each erases what has passed its room's retention)",
        "min": 1, "max": 86400})
    tls_cert: str = field(default="", metadata={
        "help": "PEM certificate chain: with PARLEY_TLS_KEY, serve HTTPS and WSS directly (TLS 1.2 or later, "
                "with HSTS)"})
    tls_key: str = field(default="", metadata={"help": "PEM private key of PARLEY_TLS_CERT"})
    registration: str = field(default="open", metadata={
        "help": "who may create an account until an admin changes it at run time: open, invite (with an "
                "invite code) or closed (the first account of an empty server always may)",
        "choices": ("OPEN", "INVITE", "CLOSED")})
    support_origins: str = field(default="", metadata={
        "help": "comma-separated origins of the sites that may embed the support widget (frame-ancestors of "
                "its page); empty: none but Parley's own"})
    assistant_url: str = field(default="", metadata={
        "help": "an OpenAI-compatible API (http://host:port/v1) the support assistant asks, streaming; empty: "
                "knowledge-base answers only"})
    assistant_key: str = field(default="", metadata={"help": "bearer key for PARLEY_ASSISTANT_URL, if it needs one"})
    assistant_model: str = field(default="", metadata={"help": "the model name sent to PARLEY_ASSISTANT_URL"})
    assistant_timeout_s: float = field(default=30.0, metadata={
        "help": "seconds the assistant waits for the language model's whole answer before its polite fallback",
        "min": 1.0, "max": 600.0})
    assistant_threshold: float = field(default=0.5, metadata={
        "help": "share (0-1) of a question's words a knowledge-base entry must cover to be given as the answer",
        "min": 0.0, "max": 1.0})
    webhook_allow_private: str = field(default="", metadata={
        "help": "comma-separated CIDR networks outgoing webhooks may reach although private, loopback or "
                "link-local (e.g. 10.0.0.0/8 for a receiver on the LAN); empty: public addresses only"})
    webhook_timeout_s: float = field(default=10.0, metadata={
        "help": "seconds an outgoing webhook delivery may take before it counts as failed", "min": 0.1,
        "max": 300})
    webhook_retry_base_s: float = field(default=10.0, metadata={
        "help": "delay before the first retry of a failed webhook delivery; each next one doubles (5 retries)",
        "min": 0.01, "max": 3600})
    webhook_log_days: float = field(default=14.0, metadata={
        "help": "days a finished webhook delivery (done or failed) stays in its bot's delivery log", "min": 0.01})
    bot_rate_limit_burst: float = field(default=30, metadata={"help": "messages a bot may send at once", "min": 1})
    bot_rate_limit_per_sec: float = field(default=5.0, metadata={
        "help": "sustained messages per second per bot", "min": 1e-6})
    export_url: str = field(default="", metadata={
        "help": "publish every committed room event to this destination, in seq order per room, at least once: "
                "amqp://user:password@host:5672/vhost (RabbitMQ); empty: no event stream"})
    export_exchange: str = field(default="parley.events", metadata={
        "help": "the durable topic exchange the event stream publishes to (routing key room.<id>.<type>)"})
    export_lease_s: int = field(default=15, metadata={
        "help": "seconds after which another node takes the event stream over from an exporting node that "
                "stopped renewing its lease", "min": 2, "max": 3600})
    ice_servers: str = field(default="", metadata={
        "help": "ICE servers browsers use for calls: a JSON list of RTCIceServer objects, or comma-separated "
                "stun:/turn: URLs (empty: host candidates only, enough on one network)"})
    turn_urls: str = field(default="", metadata={
        "help": "comma-separated turn:/turns: URLs of a coturn in use-auth-secret mode; browsers get "
                "short-lived credentials for them from GET /api/v1/calls/ice"})
    turn_secret: str = field(default="", metadata={
        "help": "coturn's static-auth-secret: signs the TURN credentials (never sent to browsers)"})
    turn_ttl: int = field(default=3600, metadata={
        "help": "seconds a TURN credential stays valid (a call in progress keeps its allocation)",
        "min": 60, "max": 86400})
    call_timeout_s: int = field(default=30, metadata={
        "help": "seconds a call participant whose socket is gone (or whose node died) stays in the call "
                "before being taken out; a call with no one left ends", "min": 2, "max": 3600})
    log_level: str = field(default="INFO", metadata={"help": "DEBUG, INFO, WARNING or ERROR",
                                                     "choices": ("DEBUG", "INFO", "WARNING", "ERROR")})
    log_format: str = field(default="text", metadata={
        "help": "text (one line per record) or json (one JSON object per line, with the HTTP request's "
                "request_id)", "choices": ("TEXT", "JSON")})
    metrics_allow: str = field(default="127.0.0.0/8,::1", metadata={
        "help": "comma-separated addresses or CIDR networks that may read GET /metrics (Prometheus text "
                "format); everyone else gets 404"})

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip())

    @property
    def support_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/") for o in self.support_origins.split(",") if o.strip())

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _check(settings: Settings) -> Settings:
    """Refuse values that would quietly misbehave (a port past 65535 wraps, a NaN rate is no limit)."""
    for f in fields(Settings):
        value, meta = getattr(settings, f.name), f.metadata
        if "choices" in meta and str(value).upper() not in meta["choices"]:
            raise ValueError(f"{env_name(f.name)} must be one of {', '.join(meta['choices'])}, not {value!r}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            low, high = meta.get("min", float("-inf")), meta.get("max", float("inf"))
            if not (math.isfinite(value) and low <= value <= high):
                bounds = f"at least {low}" if high == float("inf") else f"{low} to {high}"
                raise ValueError(f"{env_name(f.name)} must be {bounds}, not {value!r}")
    _check_networks(settings.trusted_proxies, "PARLEY_TRUSTED_PROXIES")
    _check_networks(settings.webhook_allow_private, "PARLEY_WEBHOOK_ALLOW_PRIVATE")
    _check_networks(settings.metrics_allow, "PARLEY_METRICS_ALLOW")
    if settings.ws_timeout_s <= settings.ws_ping_s:
        raise ValueError("PARLEY_WS_TIMEOUT_S must be more than PARLEY_WS_PING_S: a pinged client needs time to "
                         f"answer ({settings.ws_timeout_s} <= {settings.ws_ping_s})")
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ValueError("PARLEY_TLS_CERT and PARLEY_TLS_KEY go together: set both (HTTPS) or neither (HTTP)")
    return settings


def _check_networks(spec: str, name: str) -> None:
    # config imports no layer; core.proxies parses the same list with the same ipaddress rules.
    for item in filter(None, (part.strip() for part in spec.split(","))):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not an IP address or CIDR network") from None


def env_name(name: str) -> str:
    return f"PARLEY_{name.upper()}"


def _coerce(kind: Any, raw: str, name: str) -> Any:
    kind = {"int": int, "float": float, "bool": bool, "str": str}.get(kind, kind)
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{env_name(name)} must be true or false, not {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        noun = {"int": "an integer", "float": "a number"}.get(kind.__name__, f"a {kind.__name__}")
        raise ValueError(f"{env_name(name)} must be {noun}, not {raw!r}") from None


def from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is not None:
            values[f.name] = _coerce(f.type, raw, f.name)
    return _check(Settings(**values).replace(**overrides))
