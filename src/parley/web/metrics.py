"""`GET /metrics` in Prometheus' text format, the HTTP request counts and the request id.

Only addresses in PARLEY_METRICS_ALLOW (default loopback) are answered; anyone else gets the same
404 as a path that does not exist. A request that came through a proxy (it carries
X-Forwarded-For) is judged by the client behind the proxy when the proxy is trusted
(PARLEY_TRUST_PROXY), and refused otherwise: nginx on loopback must not open the door to everyone.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from parley.core import metrics, proxies
from parley.core.errors import RateLimited
from parley.core.ratelimit import Bucket, Rate
from parley.realtime.sse import SseConnection
from parley.web import logs
from parley.web.http import client_ip, ctx, from_trusted_proxy
from parley.web.live import LIVE

routes = web.RouteTableDef()
PATH = "/metrics"
SCRAPE_RATE = Rate(burst=20, per_second=5)  # Prometheus scrapes every 15 s; a few dashboards more
LAG_EVERY_S = 0.5
REQUEST_ID = "X-Request-Id"
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_START: web.RequestKey[float] = web.RequestKey("metrics_start", float)
_LAG: web.AppKey[_LagSampler] = web.AppKey("metrics_lag")
_NODE: web.AppKey[CollectorRegistry] = web.AppKey("metrics_node", CollectorRegistry)
_BUCKET: web.AppKey[Bucket] = web.AppKey("metrics_bucket", Bucket)


def allowed(request: web.Request) -> bool:
    if "X-Forwarded-For" in request.headers and not from_trusted_proxy(request):
        return False
    networks = proxies.parse_networks(ctx(request).settings.metrics_allow)
    return proxies.is_trusted(client_ip(request), networks)


@routes.get(PATH)
async def scrape(request: web.Request) -> web.StreamResponse:
    if not allowed(request):
        raise web.HTTPNotFound()
    wait = request.app[_BUCKET].take(time.monotonic())
    if wait:
        raise RateLimited(f"too many scrapes; retry in {wait:.1f} s", wait)
    body = generate_latest(metrics.REGISTRY) + generate_latest(request.app[_NODE])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


class _NodeCollector:
    """What is read from the node at scrape time: connections by transport, and `metrics.COUNTS`."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def describe(self) -> list[object]:
        return []

    def collect(self) -> Iterator[object]:
        sse = sum(isinstance(live.conn, SseConnection) for live in self.app[LIVE])
        gauge = GaugeMetricFamily("parley_connections", "Open live connections on this node", labels=["transport"])
        gauge.add_metric(["ws"], len(self.app[LIVE]) - sse)
        gauge.add_metric(["sse"], sse)
        yield gauge
        c = metrics.COUNTS
        for name, doc, value in (
                ("parley_sends", "Messages stored by this node's send batches", c.sends),
                ("parley_deliveries", "Room events written to local connections (one per connection)", c.deliveries),
                ("parley_fanned_events", "Room events fanned out to this node's connections", c.fanned_events),
                ("parley_dropped_slow_readers", "Connections aborted because they did not read", c.dropped_slow),
                ("parley_dropped_dead_sockets", "WebSockets closed because they stopped answering pings",
                 c.dropped_dead),
                ("parley_bus_received", "Bus messages received from other nodes", c.bus_received),
                ("parley_presence_changes", "Presence changes received for local rooms", c.presence_changes),
                ("parley_presence_frames", "Coalesced presence frames written", c.presence_frames)):
            yield CounterMetricFamily(name, doc, value=value)


class _LagSampler:
    """Event-loop lag: how late a timer fires. A blocked loop delays every socket of the node. A bare
    timer callback (no task, no coroutine) twice a second: next to nothing on an idle node."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.due = 0.0
        self.handle: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self.due = self.loop.time() + LAG_EVERY_S
        self.handle = self.loop.call_at(self.due, self._fire)

    def _fire(self) -> None:
        metrics.LOOP_LAG.observe(max(0.0, self.loop.time() - self.due))
        self._arm()

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


@web.middleware
async def request_id(request: web.Request, handler: logs.Handler) -> web.StreamResponse:
    """Every request has an id (the client's X-Request-Id when sane, else a new one): it is in every log
    line written while the request is handled, and answered back in X-Request-Id."""
    given = request.headers.get(REQUEST_ID, "")
    rid = given if _GOOD_ID.fullmatch(given) else uuid.uuid4().hex
    request[logs.REQUEST_ID_KEY] = rid
    request[_START] = time.perf_counter()
    token = logs.REQUEST_ID.set(rid)
    try:
        return await handler(request)
    finally:
        logs.REQUEST_ID.reset(token)


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Counted when the headers go out: the router's 404s, static files and upgrades included."""
    rid = request.get(logs.REQUEST_ID_KEY)
    if rid is not None:
        response.headers[REQUEST_ID] = rid
    route = _route(request)
    metrics.HTTP_REQUESTS.labels(request.method, route, str(response.status)).inc()
    start = request.get(_START)
    if start is not None and response.status != 101:
        metrics.HTTP_SECONDS.labels(route).observe(time.perf_counter() - start)


def _route(request: web.Request) -> str:
    """The route's pattern (`/api/v1/rooms/{room_id}`), never the raw path: bounded label values."""
    info = request.match_info
    if info.http_exception is not None:
        return "unmatched"
    route = info.route
    resource = route.resource
    if resource is None:
        return "unmatched"
    canonical = resource.canonical
    return "/static/" if canonical.startswith("/static") else canonical


async def _start(app: web.Application) -> None:
    app[_LAG] = _LagSampler()


async def _stop(app: web.Application) -> None:
    app[_LAG].cancel()


def install(app: web.Application) -> None:
    """Route, middleware-side signal, the node's collectors and the loop-lag sampler."""
    node = CollectorRegistry(auto_describe=False)
    node.register(_NodeCollector(app))  # type: ignore[arg-type]
    ProcessCollector(registry=node)
    PlatformCollector(registry=node)
    app[_NODE] = node
    app[_BUCKET] = Bucket(SCRAPE_RATE, time.monotonic())
    app.on_response_prepare.append(on_response_prepare)
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    app.add_routes(routes)

