"""Throttling of everything that costs a password hash (login, registration, password change), on
the real services over SQLite and PostgreSQL: tokens are paid before the hash is checked, refunded on
success, and hashes in flight are capped per address and per account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from parley.core.errors import ParleyError, RateLimited, Unauthorized
from parley.web.context import Context
from tests.contract.helpers import PASSWORD, close_context, open_context, register

WRONG = "not-the-password-1"
NEW_PASSWORD = "gravel-Sparrow-19-mint"


async def outcomes(*calls: object) -> list[str]:
    """Run the calls at once; each one's 'ok' or error code. Every refusal for rate must say when to
    come back."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    codes = []
    for result in results:
        if isinstance(result, RateLimited):
            assert result.retry_after > 0
        if isinstance(result, BaseException) and not isinstance(result, ParleyError):
            raise result
        codes.append(result.code if isinstance(result, ParleyError) else "ok")
    return codes


@pytest.fixture
async def roomy(database_url: str) -> AsyncIterator[Context]:
    """Buckets too big to matter, so only the caps on hashes in flight can refuse."""
    context = await open_context(database_url, login_rate_burst=1000, register_rate_burst=1000)
    try:
        yield context
    finally:
        await close_context(context)


async def test_a_burst_of_guesses_verifies_at_most_the_bucket(ctx: Context) -> None:
    """40 attempts at once from one fresh address, 39 wrong and the right one: each takes its token
    before its password is checked, so at most `login_rate_burst` (5) are checked at all."""
    await register(ctx, "ana")
    guesses = [WRONG] * 39 + [PASSWORD]
    codes = await outcomes(*(ctx.accounts.login("ana", pw, client_ip="192.0.2.10") for pw in guesses))
    checked = [c for c in codes if c != "rate_limited"]
    assert len(checked) <= 5, codes
    assert set(checked) <= {"unauthorized"} and codes.count("rate_limited") >= 35
    assert codes[-1] == "rate_limited"  # the right password, behind the burst, was never checked


async def test_burst_after_burst_stays_within_the_bucket(ctx: Context) -> None:
    await register(ctx, "bob")
    checked = 0
    for _ in range(4):
        codes = await outcomes(*(ctx.accounts.login("bob", WRONG, client_ip="192.0.2.11") for _ in range(25)))
        checked += sum(c != "rate_limited" for c in codes)
    assert checked <= 5


async def test_hashes_in_flight_are_capped_per_account(roomy: Context) -> None:
    """From 20 addresses at once, one account's password is checked at most twice at a time."""
    await register(roomy, "cyd")
    codes = await outcomes(*(roomy.accounts.login("cyd", WRONG, client_ip=f"192.0.2.{i}") for i in range(20)))
    assert codes.count("unauthorized") == 2 and codes.count("rate_limited") == 18
    assert roomy.accounts.deps.limits.hashes_per_account == 2
    assert roomy.accounts.throttle.in_flight("user:cyd") == 0  # every slot was given back
    assert (await roomy.accounts.login("cyd", PASSWORD, client_ip="192.0.2.1"))[0].username == "cyd"


async def test_hashes_in_flight_are_capped_per_address(roomy: Context) -> None:
    """One address spraying 20 accounts at once gets 8 checked; the others are refused unchecked."""
    names = [f"dee{i}" for i in range(20)]
    await register(roomy, *names)
    codes = await outcomes(*(roomy.accounts.login(n, WRONG, client_ip="192.0.2.12") for n in names))
    assert codes.count("unauthorized") == 8 and codes.count("rate_limited") == 12
    assert roomy.accounts.deps.limits.hashes_per_address == 8
    assert roomy.accounts.throttle.in_flight("ip:192.0.2.12") == 0


async def test_registrations_in_flight_are_capped_per_address(roomy: Context) -> None:
    codes = await outcomes(*(roomy.accounts.register(f"eve{i}", PASSWORD, client_ip="192.0.2.13")
                             for i in range(20)))
    assert codes.count("ok") == 8 and codes.count("rate_limited") == 12
    # Another address is not held up by this one.
    assert (await roomy.accounts.register("eve-other", PASSWORD, client_ip="192.0.2.14"))[0].username == "eve-other"


async def test_registrations_pay_before_hashing(database_url: str) -> None:
    ctx = await open_context(database_url, register_rate_burst=3)
    try:
        codes = await outcomes(*(ctx.accounts.register(f"fay{i}", PASSWORD, client_ip="192.0.2.15")
                                 for i in range(10)))
        assert codes.count("ok") == 3 and codes.count("rate_limited") == 7
    finally:
        await close_context(ctx)


async def test_a_successful_login_is_refunded(ctx: Context) -> None:
    """The owner who logs in fine is never throttled, even after a few typos."""
    await register(ctx, "gil")
    for _ in range(4):
        with pytest.raises(Unauthorized):
            await ctx.accounts.login("gil", WRONG, client_ip="192.0.2.16")
    for _ in range(10):
        assert (await ctx.accounts.login("GIL", PASSWORD, client_ip="192.0.2.16"))[0].username == "gil"
    with pytest.raises(Unauthorized):
        await ctx.accounts.login("gil", WRONG, client_ip="192.0.2.16")
    with pytest.raises(RateLimited):
        await ctx.accounts.login("gil", PASSWORD, client_ip="192.0.2.16")


async def test_a_name_that_cannot_exist_touches_no_bucket(ctx: Context) -> None:
    """Names breaking the username rules are refused like a wrong password, before any bucket, hash or
    query (a 250,000-character name must cost nothing to keep)."""
    await register(ctx, "hal")
    with pytest.raises(Unauthorized) as wrong:
        await ctx.accounts.login("hal", WRONG, client_ip="192.0.2.17")
    before = dict(ctx.accounts.deps.bus._buckets)
    for name in ("x" * 250_000, "a\x00b", "ab", "bad name!", "hal\u200b", "ｈａｌ"):
        with pytest.raises(Unauthorized) as caught:
            await ctx.accounts.login(name, WRONG, client_ip="192.0.2.17")
        assert caught.value.message == wrong.value.message
    assert ctx.accounts.deps.bus._buckets == before


async def test_change_password_is_throttled_per_user(ctx: Context) -> None:
    """A stolen session must not become a password oracle: five wrong current passwords, then even
    the right one waits; concurrent guesses are checked two at a time at most."""
    user, _ = await ctx.accounts.register("ida", PASSWORD)
    codes = await outcomes(*(ctx.accounts.change_password(user, WRONG, NEW_PASSWORD) for _ in range(10)))
    assert codes.count("forbidden") == 2 and codes.count("rate_limited") == 8
    for _ in range(3):
        with pytest.raises(ParleyError) as caught:
            await ctx.accounts.change_password(user, WRONG, NEW_PASSWORD)
        assert caught.value.code == "forbidden"
    with pytest.raises(RateLimited) as limited:
        await ctx.accounts.change_password(user, PASSWORD, NEW_PASSWORD)
    assert limited.value.retry_after > 30
    assert (await ctx.accounts.login("ida", PASSWORD))[0].username == "ida"  # the password did not change


async def test_a_right_password_change_is_refunded(ctx: Context) -> None:
    user, _ = await ctx.accounts.register("joe", PASSWORD)
    old, new = PASSWORD, NEW_PASSWORD
    for _ in range(7):
        await ctx.accounts.change_password(user, old, new)
        old, new = new, old
    assert (await ctx.accounts.login("joe", old))[0].username == "joe"
