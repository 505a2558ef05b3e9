"""What a node counts for `GET /metrics` (Prometheus' text format, through prometheus-client).

The hot paths (a delivery, a send) touch only plain integers of `COUNTS`: one addition per room
event or per batch, no lock, no label lookup. They are read when Prometheus scrapes
(`web/metrics.py` turns them into counters). Per-batch and per-request figures are prometheus
histograms and counters observed here directly: a batch is hundreds of messages.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)


class Counts:
    """Monotonic counts read at scrape time; the hot path adds to them and nothing else."""

    __slots__ = ("bus_received", "deliveries", "dropped_dead", "dropped_slow", "fanned_events", "presence_changes",
                 "presence_frames", "sends")

    def __init__(self) -> None:
        self.sends = 0  # messages stored by the send batches
        self.deliveries = 0  # room events handed to local connections (one per connection)
        self.fanned_events = 0  # room events fanned out by this node (one per event)
        self.dropped_slow = 0  # connections aborted for not reading (PARLEY_WS_MAX_QUEUE_BYTES)
        self.dropped_dead = 0  # WebSockets aborted for silence, pings unanswered (PARLEY_WS_TIMEOUT_S)
        self.bus_received = 0  # messages from other nodes (the Redis bus)
        self.presence_changes = 0  # online/offline changes received (all nodes)
        self.presence_frames = 0  # coalesced presence frames written to connections


COUNTS = Counts()

BATCH_SIZE = Histogram("parley_send_batch_size", "Messages per send batch (one transaction)",
                       buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500), registry=REGISTRY)
COMMIT_SECONDS = Histogram("parley_send_batch_commit_seconds",
                           "Time from a send batch's BEGIN to its COMMIT, reads and writes included",
                           buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                           registry=REGISTRY)
SPAM_DECISIONS = Counter("parley_spam_decisions", "Spam filter verdicts on scored messages",
                         ["decision"], registry=REGISTRY)
LOOP_LAG = Histogram("parley_event_loop_lag_seconds",
                     "How late a timer of the event loop fires (sampled every half second)",
                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5), registry=REGISTRY)
BUS_PUBLISH = Histogram("parley_bus_publish_seconds", "Round trip of one batch of publishes to the shared bus (Redis)",
                        buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5),
                        registry=REGISTRY)
BUS_RECEIVE_LAG = Histogram("parley_bus_receive_lag_seconds",
                            "From a room event's commit on another node to its arrival here over the bus",
                            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
                            registry=REGISTRY)
HTTP_REQUESTS = Counter("parley_http_requests", "HTTP requests answered, by route and status",
                        ["method", "route", "status"], registry=REGISTRY)
HTTP_SECONDS = Histogram("parley_http_request_seconds", "Time to answer an HTTP request (headers sent)",
                         ["route"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
                         registry=REGISTRY)
