"""The capacity model's formulas against textbook values (Kleinrock, Queueing Systems vol. 1)."""

from __future__ import annotations

import math

import pytest

from parley.core import capacity as m


def test_pk_gives_mm1_mean_wait() -> None:
    # M/M/1, λ = 0.5, μ = 1: Wq = ρ / (μ − λ) = 1.
    assert m.pk_mean_wait(0.5, 1.0, cv2=1.0) == pytest.approx(1.0)
    # λ = 0.8: Wq = 0.8 / 0.2 = 4.
    assert m.pk_mean_wait(0.8, 1.0, cv2=1.0) == pytest.approx(4.0)


def test_pk_gives_md1_mean_wait() -> None:
    # M/D/1: Wq = ρ / (2μ(1 − ρ)); at ρ = 0.9 that is 4.5 service times, half the M/M/1 figure.
    assert m.pk_mean_wait(0.9, 1.0, cv2=0.0) == pytest.approx(4.5)
    assert m.pk_mean_wait(0.9, 1.0, cv2=0.0) == pytest.approx(m.pk_mean_wait(0.9, 1.0, cv2=1.0) / 2)
    # Service time in ms, rate per second: 400/s at 2 ms is ρ = 0.8, Wq = 0.8·2 ms / (2·0.2) = 4 ms.
    assert m.pk_mean_wait(400.0, 0.002, cv2=0.0) == pytest.approx(0.004)


def test_pk_is_infinite_at_saturation() -> None:
    assert math.isinf(m.pk_mean_wait(1.0, 1.0, cv2=0.5))
    assert math.isinf(m.pk_mean_wait(2.0, 1.0, cv2=0.5))


def test_wait_quantile_is_exact_for_mm1() -> None:
    # M/M/1, λ = 0.8, μ = 1: P(W > t) = ρ·e^{−(μ−λ)t}, so the p99 is ln(0.8/0.01)/0.2 = 21.91.
    wq = m.pk_mean_wait(0.8, 1.0, cv2=1.0)
    assert m.wait_quantile(0.99, 0.8, wq) == pytest.approx(math.log(80) / 0.2)
    # The median: P(W > t) = 0.5 → t = ln(1.6)/0.2 = 2.35.
    assert m.wait_quantile(0.50, 0.8, wq) == pytest.approx(math.log(1.6) / 0.2)


def test_wait_quantile_is_zero_when_most_messages_find_the_loop_idle() -> None:
    # At ρ = 0.3, 70 % of arrivals do not wait: the median wait is 0, the p99 is not.
    wq = m.pk_mean_wait(0.3, 1.0, cv2=1.0)
    assert m.wait_quantile(0.5, 0.3, wq) == 0.0
    assert m.wait_quantile(0.99, 0.3, wq) == pytest.approx(1 / 0.7 * math.log(30))


def test_mean_batch_is_a_zero_truncated_poisson_mean() -> None:
    assert m.mean_batch(0.0, 0.01) == 1.0
    assert m.mean_batch(100.0, 0.01) == pytest.approx(1 / (1 - math.exp(-1)))  # λτ = 1: 1.582
    assert m.mean_batch(10_000.0, 0.01) == pytest.approx(100.0)


def test_least_squares_recovers_the_constants_it_was_made_from() -> None:
    truth = [0.02, 150e-6, 40e-6, 3e-6]  # idle per s, per batch, per message, per delivery
    runs = [(6.0, b, msgs, msgs * R) for R, b, msgs in
            [(3, 900, 1000), (3, 300, 3000), (100, 500, 600), (100, 90, 1800), (1000, 80, 120), (1000, 30, 300)]]
    ys = [sum(c * x for c, x in zip(truth, row, strict=True)) for row in runs]
    assert m.least_squares(runs, ys) == pytest.approx(truth, rel=1e-6)


def test_least_squares_never_returns_a_negative_cost() -> None:
    # y falls as x1 rises: unconstrained, the slope would be negative; it is dropped instead.
    coef = m.least_squares([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]], [3.0, 2.0, 1.0])
    assert coef[1] == 0.0
    assert coef[0] == pytest.approx(2.0)


K = m.Constants(idle_s=0.01, per_batch_s=200e-6, per_message_s=50e-6, per_delivery_s=5e-6,
                commit_per_batch_s=0.002, commit_per_message_s=20e-6, commit_cv2=0.5,
                floor_p50_s=0.001, floor_p50_per_member_s=10e-6, floor_p99_s=0.003, floor_p99_per_member_s=30e-6)


def test_predict_solves_the_batch_fixed_point() -> None:
    p = m.predict(K, 100, 1000.0)
    loop_per_message = 50e-6 + 100 * 5e-6
    cycle = 0.002 + p.batch * 20e-6 + (200e-6 + p.batch * loop_per_message) / (1 - 0.01)
    assert p.cycle_s == pytest.approx(cycle)
    assert p.batch == pytest.approx(m.mean_batch(1000.0, cycle))
    assert p.writer_busy == pytest.approx(1 - math.exp(-1000.0 * cycle))
    assert p.rho == pytest.approx(0.01 + 1000 * (loop_per_message + 200e-6 / p.batch))
    assert p.p99_s > p.p50_s > 0.001 + 100 * 10e-6 + cycle


def test_a_lone_message_costs_one_cycle_and_the_floor() -> None:
    p = m.predict(K, 3, 0.001)
    assert p.batch == pytest.approx(1.0, abs=1e-3)
    assert p.p50_s == pytest.approx(0.001 + 3 * 10e-6 + 0.002 + 20e-6 + (200e-6 + 65e-6) / 0.99, rel=1e-3)


def test_batching_keeps_the_writer_stable_past_one_message_per_cycle() -> None:
    # A cycle of ~2 ms would allow 500 messages/s one at a time; batches carry 3,000/s at R = 3.
    p = m.predict(K, 3, 3000.0)
    assert p.stable
    assert p.batch > 5
    assert p.writer_busy > 0.99


def test_predict_past_saturation() -> None:
    p = m.predict(K, 1000, 1000.0)  # 1000 · 1000 · 5 µs = 5 s of loop work per second
    assert not p.stable
    assert math.isinf(p.p99_s)


def test_nodes_share_the_load_and_max_rate_inverts_predict() -> None:
    one, two = m.predict(K, 100, 1200.0), m.predict(K, 100, 1200.0, nodes=2)
    assert two.rho < one.rho
    rate = m.max_rate(K, 100, 0.7)
    assert m.predict(K, 100, rate).rho == pytest.approx(0.7, abs=1e-6)
    assert m.max_rate(K, 100, 0.7, nodes=2) > rate


def test_histogram_cv2_of_equal_observations_is_zero_and_of_a_spread_is_not() -> None:
    same = {0.001: 0.0, 0.002: 10.0, math.inf: 10.0}  # ten commits of 1.5 ms
    assert m.histogram_cv2(same, 10 * 0.0015) == pytest.approx(0.0)
    spread = {0.001: 5.0, 0.01: 5.0, 0.1: 10.0, math.inf: 10.0}  # five at 0.5 ms, five at 55 ms
    mean = (5 * 0.0005 + 5 * 0.055) / 10
    second = (5 * 0.0005**2 + 5 * 0.055**2) / 10
    assert m.histogram_cv2(spread, mean * 10) == pytest.approx(second / mean**2 - 1)


def test_fit_recovers_the_costs_from_runs_made_by_them() -> None:
    runs = []
    for R, frac, batches, msgs in [(3, 0.1, 280, 300), (3, 0.5, 600, 1500), (3, 0.9, 500, 2700),
                                   (100, 0.1, 100, 100), (100, 0.9, 300, 900), (1000, 0.1, 20, 20), (1000, 0.9, 60, 150)]:
        loop = 6 * 0.01 + batches * 200e-6 + msgs * 50e-6 + msgs * R * 5e-6
        runs.append({"R": R, "mode": "open", "load_fraction": frac, "offered_per_s": msgs / 6, "window_s": 6.0,
                     "batches": batches, "messages": msgs, "loop_cpu_s": loop,
                     "commit_s": batches * 0.002 + msgs * 20e-6, "commit_buckets": {"0.005": batches, "+Inf": batches},
                     "p50_ms": 5 + R * 0.01, "p99_ms": 20 + R * 0.05})
    k = m.fit(runs)
    assert [k.idle_s, k.per_batch_s, k.per_message_s, k.per_delivery_s] == pytest.approx([0.01, 200e-6, 50e-6, 5e-6])
    assert [k.commit_per_batch_s, k.commit_per_message_s] == pytest.approx([0.002, 20e-6])
    # The floor is what the queues leave of the lowest load's latency: below it, and positive.
    assert 0 < k.floor_p50_s < 0.005
    assert k.floor_p99_per_member_s > 0


def test_constants_round_trip_through_a_dict() -> None:
    assert m.Constants.from_dict(K.as_dict()) == K
