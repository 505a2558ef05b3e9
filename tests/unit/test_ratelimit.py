"""parley.core.ratelimit.take: token bucket arithmetic."""

from __future__ import annotations

import math

import pytest

from parley.core.ratelimit import Rate, bucket_id, give_back, take

RATE = Rate(burst=3, per_second=0.5)  # 3 at once, then one every 2 s


def drain(tokens: float, now: float, times: int, rate: Rate = RATE) -> tuple[list[bool], float]:
    allowed = []
    for _ in range(times):
        ok, tokens, _wait = take(tokens, now, now, rate)
        allowed.append(ok)
    return allowed, tokens


def test_a_full_bucket_allows_the_burst_then_refuses() -> None:
    allowed, tokens = drain(RATE.burst, 100.0, 5)
    assert allowed == [True, True, True, False, False]
    assert tokens == pytest.approx(0.0)


def test_refused_take_says_how_long_to_wait() -> None:
    ok, tokens, wait = take(0.0, 100.0, 100.0, RATE)
    assert (ok, tokens) == (False, 0.0)
    assert wait == pytest.approx(2.0)  # one token at 0.5/s
    ok, _, wait = take(0.5, 100.0, 100.0, RATE)
    assert not ok
    assert wait == pytest.approx(1.0)


def test_refill_over_time() -> None:
    # empty at t=100; at t=101 half a token (still refused), at t=102 one token
    ok, tokens, wait = take(0.0, 100.0, 101.0, RATE)
    assert not ok
    assert tokens == pytest.approx(0.5)
    assert wait == pytest.approx(1.0)
    ok, tokens, wait = take(0.0, 100.0, 102.0, RATE)
    assert ok
    assert tokens == pytest.approx(0.0)
    assert wait == 0.0


def test_refill_is_capped_at_burst() -> None:
    ok, tokens, _ = take(0.0, 0.0, 1e6, RATE)
    assert ok
    assert tokens == pytest.approx(RATE.burst - 1)


def test_clock_going_backwards_does_not_add_or_remove_tokens() -> None:
    ok, tokens, _ = take(1.0, 100.0, 50.0, RATE)
    assert ok
    assert tokens == pytest.approx(0.0)


def test_cost_zero_peeks_without_spending() -> None:
    for _ in range(10):
        ok, tokens, wait = take(2.0, 100.0, 100.0, RATE, cost=0)
        assert ok
        assert tokens == pytest.approx(2.0)
        assert wait == 0.0


def test_cost_zero_is_refused_without_a_whole_token() -> None:
    ok, tokens, wait = take(0.5, 100.0, 100.0, RATE, cost=0)
    assert not ok
    assert tokens == pytest.approx(0.5)
    assert wait == pytest.approx(1.0)


def test_cost_zero_sees_the_refill() -> None:
    ok, tokens, _ = take(0.0, 100.0, 104.0, RATE, cost=0)
    assert ok
    assert tokens == pytest.approx(2.0)


def test_larger_cost() -> None:
    ok, tokens, _ = take(3.0, 0.0, 0.0, RATE, cost=2)
    assert ok
    assert tokens == pytest.approx(1.0)
    ok, tokens, wait = take(1.0, 0.0, 0.0, RATE, cost=2)
    assert not ok
    assert tokens == pytest.approx(1.0)
    assert wait == pytest.approx(2.0)


def test_no_refill_rate_waits_forever() -> None:
    ok, _, wait = take(0.0, 0.0, 10.0, Rate(burst=1, per_second=0))
    assert not ok
    assert math.isinf(wait)


def test_give_back_refills_then_returns_the_amount() -> None:
    # empty at t=100; at t=101 half a token has come back, plus the one returned
    assert give_back(0.0, 100.0, 101.0, RATE) == pytest.approx(1.5)
    assert give_back(0.0, 100.0, 100.0, RATE, amount=2) == pytest.approx(2.0)


def test_give_back_never_passes_the_burst() -> None:
    assert give_back(2.5, 100.0, 100.0, RATE) == pytest.approx(RATE.burst)
    assert give_back(0.0, 0.0, 1e6, RATE) == pytest.approx(RATE.burst)


def test_take_then_give_back_is_a_no_op() -> None:
    ok, tokens, _ = take(2.0, 100.0, 100.0, RATE)
    assert ok
    assert give_back(tokens, 100.0, 100.0, RATE) == pytest.approx(2.0)


def test_bucket_ids_have_a_fixed_size_and_differ_per_key() -> None:
    ids = {bucket_id(key) for key in ("a", "b", "login:ann:10.0.0.1", "x" * 250_000, "\ud800 lone surrogate")}
    assert len(ids) == 5
    assert {len(i) for i in ids} == {16}
    assert bucket_id("a") == bucket_id("a")
