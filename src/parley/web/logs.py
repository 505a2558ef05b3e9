"""Log lines: plain text (the default) or one JSON object per line (PARLEY_LOG_FORMAT=json), each with
the id of the HTTP request being handled when it was written (`request_id`; see web/metrics.py)."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
REQUEST_ID_KEY: web.RequestKey[str] = web.RequestKey("request_id", str)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "message", "request_id"?, "exc"?}: one line, UTF-8, for a log shipper."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        rid = getattr(record, "request_id", None)
        if rid:
            line["request_id"] = rid
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure(level: str, fmt: str) -> None:
    """The root logger's one handler, on stderr."""
    handler = logging.StreamHandler()
    handler.addFilter(_WithRequestId())
    if fmt.lower() == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
