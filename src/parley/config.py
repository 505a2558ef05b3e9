"""Settings: defaults that work on a laptop, overridden by PARLEY_* variables, then by flags."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Settings:
    host: str = field(default="127.0.0.1", metadata={"help": "address to listen on"})
    port: int = field(default=8000, metadata={"help": "port to listen on"})
    database_url: str = field(default="sqlite:///var/parley.db", metadata={
        "help": "sqlite:///path (one node) or postgresql://user@host/db (one or many nodes)"})
    broker_url: str = field(default="memory://", metadata={
        "help": "memory:// (one node) or redis://host:port/db (several nodes)"})
    allowed_origins: str = field(default="", metadata={
        "help": "comma-separated extra browser origins allowed on /ws and for cookie writes; "
                "the server's own origin is always allowed"})
    max_text: int = field(default=4000, metadata={"help": "longest message text, in characters"})
    rate_limit_burst: float = field(default=10, metadata={"help": "messages a user may send at once"})
    rate_limit_per_sec: float = field(default=1.0, metadata={"help": "sustained messages per second per user"})
    login_rate_burst: float = field(default=5, metadata={
        "help": "failed logins allowed per account and address before throttling (1 more per minute)"})
    register_rate_burst: float = field(default=30, metadata={
        "help": "accounts one address may register at once (then 6 a minute); a classroom behind one NAT "
                "needs this high"})
    ws_max_queue_bytes: int = field(default=1 << 20, metadata={
        "help": "bytes queued for a connection that does not read before it is dropped"})
    session_ttl_days: int = field(default=30, metadata={"help": "days a login stays valid"})
    sqlite_synchronous: str = field(default="FULL", metadata={
        "help": "SQLite synchronous pragma: FULL survives power loss, NORMAL only process crashes"})
    trust_proxy: bool = field(default=False, metadata={
        "help": "take the client address from X-Forwarded-For (behind nginx)"})
    log_level: str = field(default="INFO", metadata={"help": "DEBUG, INFO, WARNING or ERROR"})

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip())

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


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
        raise ValueError(f"{env_name(name)} must be a {kind.__name__}, not {raw!r}") from None


def from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is not None:
            values[f.name] = _coerce(f.type, raw, f.name)
    return Settings(**values).replace(**overrides)
