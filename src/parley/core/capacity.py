"""The capacity model of one node: how long a message waits at a given rate and room size.

Pure arithmetic, no I/O. The constants come from `bench/capacity.py`, which measures them and stores
them in `core/data/capacity.json`; the CLI (`parley capacity`) reads that file and calls `predict`.

Two servers in series, both measured:

- **The batch writer** (`Messages._flush_loop`): one transaction at a time, each taking every send
  that queued while the previous one was written (up to 500). A batch of b messages occupies it for
  `C(b) = commit_per_batch + b·commit_per_message` (the transaction's wall time, mostly the disk
  flush of `synchronous=FULL`) plus the batch's event-loop work (below). This is a bulk-service
  queue, M/G^[1,500]/1: with Poisson arrivals at λ, a cycle of length C gathers a Poisson(λC)
  batch, so the mean batch is λC / (1 − e^(−λC)) given that one started, and the writer is busy
  with probability 1 − e^(−λC). A message waits for the rest of the cycle in progress (mean
  `(1 + cv²)·C/2`, cv² of the commit time read from the server's histogram), then for its own.
  Batching makes it stable far past the closed-loop figure: it saturates only when λ·(per message
  cost) reaches 1.
- **The event loop**: CPU per batch, per message and per delivery (frame written to one
  receiver), fitted to the server's main-thread CPU. Its utilisation is
  `ρ = idle + λ·(per_message + R·per_delivery) + (λ/b)·per_batch`; a message's frame waits behind
  other work as in M/G/1, Pollaczek-Khinchine's `Wq = λ·E[S²] / (2·(1 − ρ))`, with cv² = 1 (a
  message's service is a share of a batch's fan-out, neither constant nor known better).

Quantiles of both waits use the exponential tail: a message waits with probability p (ρ, or the
writer's busy share) and then an exponential time of the conditional mean (exact for M/M/1). The
rest of the latency (reading the frame, encoding, the kernel, the receivers' reads) is the floor,
fitted as a p50 and a p99 growing with R, the queues' share taken out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields

SAFE_UTILISATION = 0.7  # above this, the wait grows as 1/(1 − ρ): add a node or split the room
BATCH_MAX = 500  # services/deps.py Limits.batch_max


@dataclass(frozen=True)
class Constants:
    idle_s: float  # event-loop CPU per second with nothing sent (timers, heartbeats)
    per_batch_s: float  # event-loop CPU per send batch
    per_message_s: float  # ... per message stored
    per_delivery_s: float  # ... per message frame written to one receiver's connection
    commit_per_batch_s: float  # wall time of a batch's transaction, fixed part (the disk flush)
    commit_per_message_s: float  # ... per message in it
    commit_cv2: float  # squared coefficient of variation of the commit time
    floor_p50_s: float  # latency no queue explains, for R = 0, on a machine of its own ...
    floor_p50_per_member_s: float  # ... and per member of the room
    floor_p99_s: float
    floor_p99_per_member_s: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Constants:
        return cls(**{f.name: float(data[f.name]) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Prediction:
    rho: float  # event-loop utilisation (≥ 1: the node cannot keep up)
    writer_busy: float  # share of time the batch writer is busy
    batch: float  # mean messages per batch
    cycle_s: float  # mean time to write and fan out one batch
    mean_wait_s: float  # queueing delay, mean (writer and loop)
    p50_s: float  # send → last delivery
    p99_s: float

    @property
    def stable(self) -> bool:
        return self.rho < 1.0 and not math.isinf(self.cycle_s)


# ---------------------------------------------------------------------------------------------- queueing


def pk_mean_wait(rate: float, mean_service: float, cv2: float) -> float:
    """Pollaczek-Khinchine: mean time in queue of M/G/1; infinite at ρ ≥ 1."""
    rho = rate * mean_service
    if rho >= 1.0:
        return math.inf
    return rate * (1.0 + cv2) * mean_service**2 / (2.0 * (1.0 - rho))


def wait_quantile(q: float, rho: float, mean_wait: float) -> float:
    """The q-quantile of the wait when P(W > t) = ρ·exp(−t·ρ / Wq), exact for M/M/1."""
    if rho >= 1.0 or math.isinf(mean_wait):
        return math.inf
    tail = 1.0 - q
    if rho <= tail or mean_wait <= 0.0:
        return 0.0
    return mean_wait / rho * math.log(rho / tail)


def mean_batch(rate: float, window: float) -> float:
    """Mean size of a batch: the sends that arrived in a gathering window of that length, given that
    at least one did (an empty window starts no batch). 1 at low load, λ·window at high load."""
    x = rate * window
    if x < 1e-9:
        return 1.0
    return x / -math.expm1(-x)


# ---------------------------------------------------------------------------------------------- the node


def predict(k: Constants, room_size: int, rate: float, nodes: int = 1, contention: float = 1.0) -> Prediction:
    """Latency of messages sent at `rate` per second (all rooms) into rooms of `room_size`, the
    senders and receivers spread evenly over `nodes` nodes: each writes its own senders' batches
    and fans every message out to its own share of the members.

    `contention` is how much longer the loop's work takes than its CPU time because other
    processes hold the cores: 1 + (time runnable but waiting for a CPU) / (CPU time), from the
    loop thread's schedstat; 1 on a node of its own."""
    n = max(1, nodes)
    lam, members = rate / n, room_size / n
    per_msg_loop = (k.per_message_s + members * k.per_delivery_s) * contention
    # Other nodes' messages fanned out here, and the timers: work the loop does besides this node's sends.
    background = (k.idle_s + (rate - lam) * members * k.per_delivery_s) * contention
    inf = Prediction(math.inf, 1.0, BATCH_MAX, math.inf, math.inf, math.inf, math.inf)
    if background >= 1.0:
        return inf

    def cycle(b: float) -> float:
        loop = (k.per_batch_s * contention + b * per_msg_loop) / (1.0 - background)
        return (k.commit_per_batch_s + b * k.commit_per_message_s) * contention + loop

    batch = 1.0
    for _ in range(200):  # the fixed point b = mean_batch(λ, C(b)); a contraction while stable
        nxt = min(float(BATCH_MAX), mean_batch(lam, cycle(batch)))
        if abs(nxt - batch) < 1e-9:
            break
        batch = nxt
    c = cycle(batch)
    if batch >= BATCH_MAX and lam * c > BATCH_MAX:  # even full batches cannot keep up
        return inf
    busy = -math.expm1(-lam * c) if batch < BATCH_MAX else 1.0
    rho = background + lam * (per_msg_loop + k.per_batch_s * contention / batch)
    if rho >= 1.0:
        return Prediction(rho, busy, batch, c, math.inf, math.inf, math.inf)
    commit_share = (k.commit_per_batch_s + batch * k.commit_per_message_s) * contention / c
    residual = (1.0 + k.commit_cv2 * commit_share**2) * c / 2  # mean rest of the cycle in progress
    loop_service = (rho - background) / lam if lam > 0 else per_msg_loop
    loop_wait = pk_mean_wait(lam, loop_service, 1.0) / (1.0 - background)

    def quantile(q: float) -> float:
        # Busy all the time is no overload for a bulk server (batches grow): the wait stays bounded.
        writer = residual * math.log(busy / (1.0 - q)) if busy > 1.0 - q else 0.0
        return c + writer + wait_quantile(q, rho, loop_wait)

    return Prediction(rho=rho, writer_busy=busy, batch=batch, cycle_s=c,
                      mean_wait_s=busy * residual + loop_wait,
                      p50_s=floor_p50(k, room_size) * contention + quantile(0.50),
                      p99_s=floor_p99(k, room_size) * contention + quantile(0.99))


def floor_p50(k: Constants, room_size: int) -> float:
    return k.floor_p50_s + room_size * k.floor_p50_per_member_s


def floor_p99(k: Constants, room_size: int) -> float:
    """Never below the p50's floor (the two lines are fitted apart)."""
    return max(floor_p50(k, room_size), k.floor_p99_s + room_size * k.floor_p99_per_member_s)


def max_rate(k: Constants, room_size: int, utilisation: float = SAFE_UTILISATION, nodes: int = 1) -> float:
    """The highest message rate that keeps each node's loop at or below `utilisation` (bisection)."""
    lo, hi = 0.0, 1.0
    while predict(k, room_size, hi, nodes).rho < utilisation and hi < 1e9:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if predict(k, room_size, mid, nodes).rho < utilisation else (lo, mid)
    return lo


# ---------------------------------------------------------------------------------------------- fitting


def least_squares(rows: Sequence[Sequence[float]], ys: Sequence[float]) -> list[float]:
    """Non-negative least squares by elimination: solve the normal equations, drop any column whose
    coefficient comes out negative (a cost cannot be), solve again."""
    active = list(range(len(rows[0])))
    while True:
        coef = _solve_normal([[r[j] for j in active] for r in rows], ys)
        negative = [j for j, v in zip(active, coef, strict=True) if v < 0]
        if not negative:
            out = [0.0] * len(rows[0])
            for j, v in zip(active, coef, strict=True):
                out[j] = v
            return out
        active.remove(min(negative, key=lambda j: coef[active.index(j)]))
        if not active:
            return [0.0] * len(rows[0])


def _solve_normal(rows: Sequence[Sequence[float]], ys: Sequence[float]) -> list[float]:
    n = len(rows[0])
    # Columns are scaled to unit size first: counts of deliveries and seconds differ by 10^6.
    scale = [max(abs(r[j]) for r in rows) or 1.0 for j in range(n)]
    a = [[sum(r[i] / scale[i] * r[j] / scale[j] for r in rows) for j in range(n)] for i in range(n)]
    b = [sum(r[i] / scale[i] * y for r, y in zip(rows, ys, strict=True)) for i in range(n)]
    for col in range(n):  # Gauss-Jordan with partial pivoting
        pivot = max(range(col, n), key=lambda i: abs(a[i][col]))
        if abs(a[pivot][col]) < 1e-12:
            raise ValueError("the runs do not separate the constants (a column is all zero or collinear)")
        a[col], a[pivot], b[col], b[pivot] = a[pivot], a[col], b[pivot], b[col]
        for i in range(n):
            if i != col:
                f = a[i][col] / a[col][col]
                a[i] = [x - f * y for x, y in zip(a[i], a[col], strict=True)]
                b[i] -= f * b[col]
    return [b[i] / a[i][i] / scale[i] for i in range(n)]


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Intercept and slope, both kept ≥ 0."""
    intercept, slope = least_squares([[1.0, x] for x in xs], ys)
    return intercept, slope


def histogram_cv2(buckets: Mapping[float, float], total: float) -> float:
    """cv² of a Prometheus histogram's observations: bucket counts (cumulative, by upper bound, +Inf
    as math.inf) and the exact sum; each observation is taken at its bucket's middle for E[X²]."""
    count = max(buckets.values(), default=0.0)
    if count <= 0 or total <= 0:
        return 0.0
    bounds = sorted(b for b in buckets if not math.isinf(b))
    second, prev_le, prev_n = 0.0, 0.0, 0.0
    for le in [*bounds, math.inf]:
        n = buckets.get(le, count) - prev_n
        mid = (prev_le + le) / 2 if not math.isinf(le) else prev_le * 1.5
        second += n * mid * mid
        prev_le, prev_n = le, buckets.get(le, count)
    mean = total / count
    return max(0.0, second / count / mean**2 - 1.0)


def _floor_line(rows: list[list[float]], ys: list[float]) -> tuple[float, float]:
    if not rows:
        return 0.0, 0.0
    if len({round(r[1] / r[0]) for r in rows}) < 2:  # one room size: no slope to fit
        return sum(y / r[0] for r, y in zip(rows, ys, strict=True)) / len(rows), 0.0
    intercept, slope = least_squares(rows, ys)
    return intercept, slope


def contention_of(run: Mapping[str, object]) -> float:
    """The loop's slowdown in a run: 1 + its wait for a CPU over its CPU time."""
    cpu = _f(run, "loop_cpu_s")
    return 1.0 + float(run.get("loop_wait_s") or 0.0) / cpu if cpu > 0 else 1.0  # type: ignore[arg-type]


def _f(r: Mapping[str, object], key: str) -> float:
    return float(r[key])  # type: ignore[arg-type]


def fit(runs: Iterable[Mapping[str, object]]) -> Constants:
    """Fit the constants to bench/capacity.py's runs: dicts with R, window_s, messages, batches,
    loop_cpu_s, commit_s, commit_buckets; the open-loop ones also offered_per_s, load_fraction,
    p50_ms and p99_ms."""
    runs = list(runs)
    idle, per_batch, per_message, per_delivery = least_squares(
        [[_f(r, "window_s"), _f(r, "batches"), _f(r, "messages"), _f(r, "messages") * _f(r, "R")] for r in runs],
        [_f(r, "loop_cpu_s") for r in runs])
    # The writer thread waits for a CPU like the loop does: its time is fitted net of that slowdown.
    commit_batch, commit_message = least_squares([[_f(r, "batches"), _f(r, "messages")] for r in runs],
                                                 [_f(r, "commit_s") / contention_of(r) for r in runs])
    pooled: dict[float, float] = {}
    for r in runs:
        for le, n in dict(r.get("commit_buckets") or {}).items():  # type: ignore[call-overload]
            pooled[float(le)] = pooled.get(float(le), 0.0) + float(n)
    cv2 = histogram_cv2(pooled, sum(_f(r, "commit_s") for r in runs))
    queues = Constants(idle, per_batch, per_message, per_delivery, commit_batch, commit_message, cv2,
                       0.0, 0.0, 0.0, 0.0)
    # The floor is what the queues leave unexplained, in CPU time (divided by the run's contention),
    # fitted over every open-loop run up to 80 % load, each weighted by 1/its latency so that the
    # line is good in relative terms at every R (a least-squares fit in ms would serve R=1000 only).
    rows50, rows99, ys50, ys99 = [], [], [], []
    for r in runs:
        if r.get("mode") != "open" or _f(r, "load_fraction") > 0.8:
            continue
        slow, R = contention_of(r), _f(r, "R")
        q = predict(queues, int(R), _f(r, "offered_per_s"), contention=slow)
        if not q.stable:
            continue
        for rows, ys, measured, queued in ((rows50, ys50, _f(r, "p50_ms") / 1e3, q.p50_s),
                                           (rows99, ys99, _f(r, "p99_ms") / 1e3, q.p99_s)):
            w = slow / measured
            rows.append([w, R * w])
            ys.append(max(0.0, measured - queued) / slow * w)
    p50 = _floor_line(rows50, ys50)
    p99 = _floor_line(rows99, ys99)
    return Constants(idle, per_batch, per_message, per_delivery, commit_batch, commit_message, cv2,
                     p50[0], p50[1], p99[0], p99[1])


# ---------------------------------------------------------------------------------------------- advice


def nodes_needed(k: Constants, room_size: int, rate: float, utilisation: float = SAFE_UTILISATION,
                 most: int = 64) -> int | None:
    """The fewest nodes that keep each loop at or below `utilisation`; None if `most` do not."""
    for n in range(1, most + 1):
        if predict(k, room_size, rate, n).rho <= utilisation:
            return n
    return None


def report(k: Constants, room_size: int, rate: float, nodes: int, p99_target_s: float) -> tuple[list[str], bool]:
    """What `parley capacity` prints, and whether the deployment is fine as it is."""
    p = predict(k, room_size, rate, nodes)
    lines = [
        f"rooms of {room_size}, {rate:,.0f} messages/s, {nodes} node(s): "
        f"{rate * room_size:,.0f} deliveries/s",
        f"  event-loop utilisation   {_share(p.rho)} per node (keep it under {SAFE_UTILISATION:.0%})",
        f"  mean batch               {p.batch:.1f} messages per transaction",
        f"  mean wait                {_ms(p.mean_wait_s)}",
        f"  send -> delivery         p50 {_ms(p.p50_s)}, p99 {_ms(p.p99_s)}",
        f"  rate at {SAFE_UTILISATION:.0%} utilisation    {max_rate(k, room_size, SAFE_UTILISATION, nodes):,.0f} messages/s",
    ]
    ok = True
    if p.rho > SAFE_UTILISATION:
        ok = False
        need = nodes_needed(k, room_size, rate)
        lines.append(f"WARNING: {_share(p.rho)} utilisation: waits grow as 1/(1 - utilisation); "
                     + (f"run {need} nodes (PostgreSQL and Redis) to bring it under {SAFE_UTILISATION:.0%}"
                        if need else "more than 64 nodes would be needed: split the rooms"))
    floor = floor_p99(k, room_size)
    if floor > p99_target_s:
        ok = False
        lines.append(f"WARNING: one message to {room_size} members takes {_ms(floor)} at p99 even on an idle node, "
                     f"over the {_ms(p99_target_s)} target: split the room (or spread its members over more nodes)")
    elif p.p99_s > p99_target_s and p.rho <= SAFE_UTILISATION:
        ok = False
        more = next((n for n in range(nodes + 1, 65) if predict(k, room_size, rate, n).p99_s <= p99_target_s), None)
        lines.append(f"WARNING: p99 {_ms(p.p99_s)} is over the {_ms(p99_target_s)} target: "
                     + (f"{more} nodes bring it to {_ms(predict(k, room_size, rate, more).p99_s)}" if more else
                        "more nodes do not bring it under: the commit's variance and the floor set it "
                        "(faster disk for the flush, or smaller rooms)"))
    return lines, ok


def _share(rho: float) -> str:
    return "over 100 % (the node cannot keep up)" if rho >= 1.0 else f"{rho:.0%}"


def _ms(seconds: float) -> str:
    return "unbounded" if math.isinf(seconds) else f"{seconds * 1e3:.1f} ms"
