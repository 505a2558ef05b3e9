"""RabbitMQ (AMQP 0-9-1) with aio-pika: one connection, one channel in publisher-confirm mode, a
durable topic exchange. Each record is a persistent message whose body is the event's JSON,
with headers room, seq and type, message id "room:seq" and routing key `room.<room>.<type>`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import aio_pika
from aio_pika.exceptions import AMQPError, DeliveryError
from aiormq.exceptions import AMQPError as AMQPLowError

from parley.core.export import Record
from parley.export.base import ExportUnavailable

# The adapter reports an outage itself, in one line (services/export.py); aiormq would log each
# refused reconnection at ERROR and a broker's shutdown with a traceback.
for _name in ("aiormq", "aio_pika"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_FAILURES = (AMQPError, AMQPLowError, DeliveryError, ConnectionError, OSError, asyncio.TimeoutError, RuntimeError)


class AmqpExporter:
    def __init__(self, url: str, exchange: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"{url!r} names no host: use amqp://user:password@host:5672/vhost")
        self.url = url
        self.exchange_name = exchange
        self.timeout = timeout
        self.name = f"{parts.scheme}://{parts.hostname}:{parts.port or 5672}{parts.path or '/'} exchange {exchange}"
        self._connection: Any = None
        self._exchange: Any = None

    async def start(self) -> None:
        await self.close()
        try:
            self._connection = await aio_pika.connect(self.url, timeout=self.timeout)
            channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        except _FAILURES as exc:
            await self.close()
            raise ExportUnavailable(f"{self.name}: {_describe(exc)}") from None

    async def publish(self, records: Sequence[Record]) -> None:
        exchange = self._exchange
        if exchange is None or self._connection is None or self._connection.is_closed:
            raise ExportUnavailable(f"{self.name}: not connected")
        # Started in order on one channel (its lock is first come, first served), so the broker
        # receives them in order; all are awaited, so no confirm is left unchecked. Not mandatory:
        # which queues the exchange routes to is the consumers' business (bind before publishing).
        sends = [asyncio.ensure_future(exchange.publish(
            aio_pika.Message(r.body, headers=r.headers, message_id=r.message_id,
                             content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             timestamp=r.ts / 1000),
            routing_key=r.routing_key, mandatory=False, timeout=self.timeout)) for r in records]
        results = await asyncio.gather(*sends, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                raise ExportUnavailable(f"{self.name}: {_describe(result)}")
            if not _acked(result):
                raise ExportUnavailable(f"{self.name}: the broker refused a message ({result!r})")

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:  # closed by the broker too: closing it here releases it cleanly
            try:
                await asyncio.wait_for(connection.close(), self.timeout)
            except (*_FAILURES, asyncio.CancelledError):
                pass


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if not text or " object at 0x" in text:  # aio-pika names a closed channel by its repr
        return f"connection lost ({type(exc).__name__})"
    return f"{type(exc).__name__}: {text}"


def _acked(confirmation: Any) -> bool:
    from pamqp import commands

    return isinstance(confirmation, commands.Basic.Ack)
