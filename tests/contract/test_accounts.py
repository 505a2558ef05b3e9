"""Accounts: registration, login, sessions, passwords, disabling, search."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from argon2 import PasswordHasher

from parley.core.errors import Conflict, Forbidden, Invalid, Unauthorized
from parley.services import accounts as accounts_service
from parley.store import users as user_store
from parley.web.context import Context
from tests.contract.helpers import PASSWORD, close_context, open_context, register

NEW_PASSWORD = "gravel-Sparrow-19-mint"
DAY_MS = 86_400_000


@pytest.fixture
async def racing(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Context:
    """Make concurrent registrations overlap in the database, every time: argon2 with tiny costs (so
    hashing does not spread them out), pooled connections opened beforehand, and a slow commit (each
    transaction stays open 50 ms after inserting its user), as on a busy server."""
    monkeypatch.setattr(accounts_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    insert_user = user_store.insert_user

    async def slow_insert_user(conn: object, **values: object) -> object:
        inserted = await insert_user(conn, **values)
        await asyncio.sleep(0.05)
        return inserted

    monkeypatch.setattr(user_store, "insert_user", slow_insert_user)
    await asyncio.gather(*(ctx.accounts.search("warm", 1) for _ in range(8)))
    return ctx


async def test_register_login_authenticate_logout(ctx: Context) -> None:
    user, token = await ctx.accounts.register("Ann_1", PASSWORD, "Ann Example")
    assert (user.username, user.display_name, user.disabled) == ("Ann_1", "Ann Example", False)
    assert isinstance(token, str) and len(token) >= 32

    found, session = await ctx.accounts.authenticate(token)
    assert found == user and session.user_id == user.id

    # Login is case-insensitive on the name and keeps the name as registered; each login is a new session.
    again, token2 = await ctx.accounts.login("ann_1", PASSWORD)
    assert again == user and token2 != token
    found2, session2 = await ctx.accounts.authenticate(token2)
    assert found2 == user and session2.id != session.id

    await ctx.accounts.logout(session)
    with pytest.raises(Unauthorized):
        await ctx.accounts.authenticate(token)
    assert (await ctx.accounts.authenticate(token2))[0] == user  # only that session ended

    for bad in (None, "", "x" * 201, token + "x"):
        with pytest.raises(Unauthorized):
            await ctx.accounts.authenticate(bad)

    # The display name defaults to the username and can be changed.
    bea, _ = await ctx.accounts.register("bea", PASSWORD)
    assert bea.display_name == "bea"
    changed = await ctx.accounts.update_profile(bea, "  Béa   Q  ")
    assert changed.display_name == "Béa Q" and changed.id == bea.id
    assert (await ctx.accounts.login("bea", PASSWORD))[0].display_name == "Béa Q"
    with pytest.raises(Invalid):
        await ctx.accounts.update_profile(bea, "   ")


async def test_usernames_are_unique_ignoring_case(ctx: Context) -> None:
    first, _ = await ctx.accounts.register("Alice", PASSWORD)
    for name in ("alice", "ALICE", "Alice"):
        with pytest.raises(Conflict):
            await ctx.accounts.register(name, NEW_PASSWORD)
    assert (await ctx.accounts.login("aLiCe", PASSWORD))[0] == first
    with pytest.raises(Unauthorized):  # the refused registrations did not replace the password
        await ctx.accounts.login("alice", NEW_PASSWORD)


async def test_racing_registrations_of_one_name_give_one_account_and_conflicts(racing: Context) -> None:
    ctx = racing
    names = ["Racer", "racer", "RACER", "rAcEr", "racER", "RAcer"]
    results = await asyncio.gather(*(ctx.accounts.register(n, PASSWORD) for n in names),
                                   return_exceptions=True)
    winners = [r for r in results if isinstance(r, tuple)]
    losers = [r for r in results if not isinstance(r, tuple)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in losers), [type(r).__name__ for r in losers]
    assert (await ctx.accounts.login("racer", PASSWORD))[0] == winners[0][0]


async def test_register_refuses_bad_fields_and_stores_nothing(ctx: Context) -> None:
    for username, password in [("ab", PASSWORD), ("has space", PASSWORD), ("x" * 33, PASSWORD),
                               ("carl", "short"), ("carl", "password123"), ("carl", "CARL"),
                               ("carl", 12345678), (None, PASSWORD),
                               # @room and @here mention everyone: no account may be called that.
                               ("room", PASSWORD), ("HERE", PASSWORD), ("Room", PASSWORD)]:
        with pytest.raises(Invalid):
            await ctx.accounts.register(username, password)
    # Nothing was stored, so the next account is still the first one.
    user, _ = await ctx.accounts.register("carl", PASSWORD)
    assert user.is_admin


async def test_display_name_may_repeat_but_not_read_as_another_users_username(ctx: Context) -> None:
    alice, bob = await register(ctx, "alice", "bob")
    for posing in ("alice", "Alice", "@ALICE", "\uff41\uff4c\uff49\uff43\uff45", "\u0430lice", " @ alice ",
                   "Alice @alice", "Bob (@Alice)", "Bob @\u0430lice"):
        with pytest.raises(Conflict, match="display_name must not look like another user's username") as info:
            await ctx.accounts.update_profile(bob, posing)
        assert info.value.status == 409
    assert (await ctx.accounts.login("bob", PASSWORD))[0].display_name == "bob"  # nothing was stored

    # Registering with someone else's username as display name is refused, and creates nobody.
    with pytest.raises(Conflict, match="display_name"):
        await ctx.accounts.register("carol", PASSWORD, "ALICE")
    with pytest.raises(Unauthorized):
        await ctx.accounts.login("carol", PASSWORD)

    # A disabled account's name is still someone's.
    await register(ctx, "dave")
    await ctx.accounts.disable("dave")
    with pytest.raises(Conflict):
        await ctx.accounts.update_profile(bob, "Dave")

    # One's own username in any case is fine, and so is another user's display name: the client
    # shows @username beside every display name.
    assert (await ctx.accounts.update_profile(alice, "ALICE")).display_name == "ALICE"
    assert (await ctx.accounts.update_profile(alice, "Ann Lee")).display_name == "Ann Lee"
    assert (await ctx.accounts.update_profile(bob, "Ann Lee")).display_name == "Ann Lee"
    carol, _ = await ctx.accounts.register("carol", PASSWORD, "Ann Lee")
    assert carol.display_name == "Ann Lee"
    assert (await ctx.accounts.update_profile(bob, "alice smith")).display_name == "alice smith"


async def test_wrong_password_and_unknown_user_look_the_same(ctx: Context) -> None:
    await register(ctx, "dora")
    messages = []
    for username, password in [("dora", "not-the-password-1"), ("nobody", PASSWORD), ("dora", ""),
                               ("dora", None), (None, PASSWORD), ("dora", "x" * 2000)]:
        with pytest.raises(Unauthorized) as caught:
            await ctx.accounts.login(username, password)
        messages.append(caught.value.message)
    assert len(set(messages)) == 1, messages


async def test_disabled_user_cannot_log_in_and_their_sessions_stop(ctx: Context) -> None:
    _, token = await ctx.accounts.register("erin", PASSWORD)
    _, token2 = await ctx.accounts.login("erin", PASSWORD)
    await register(ctx, "fred")
    with pytest.raises(Unauthorized) as wrong:
        await ctx.accounts.login("erin", "not-the-password-1")

    disabled = await ctx.accounts.disable("ERIN")
    assert disabled.username == "erin"
    for t in (token, token2):
        with pytest.raises(Unauthorized):
            await ctx.accounts.authenticate(t)
    with pytest.raises(Unauthorized) as refused:
        await ctx.accounts.login("erin", PASSWORD)
    assert refused.value.message == wrong.value.message  # no hint that the account exists
    assert [u.username for u in await ctx.accounts.search("e", 10)] == []
    assert [u.username for u in await ctx.accounts.search("f", 10)] == ["fred"]


async def test_change_password_revokes_every_old_session(ctx: Context) -> None:
    user, token1 = await ctx.accounts.register("gus", PASSWORD)
    _, token2 = await ctx.accounts.login("gus", PASSWORD)

    with pytest.raises(Forbidden):
        await ctx.accounts.change_password(user, "not-the-password-1", NEW_PASSWORD)
    with pytest.raises(Invalid):
        await ctx.accounts.change_password(user, PASSWORD, "short")
    assert (await ctx.accounts.authenticate(token1))[0] == user  # failed attempts revoke nothing

    token3 = await ctx.accounts.change_password(user, PASSWORD, NEW_PASSWORD)
    assert (await ctx.accounts.authenticate(token3))[0] == user
    for old in (token1, token2):
        with pytest.raises(Unauthorized):
            await ctx.accounts.authenticate(old)
    with pytest.raises(Unauthorized):
        await ctx.accounts.login("gus", PASSWORD)
    assert (await ctx.accounts.login("gus", NEW_PASSWORD))[0] == user


async def test_sessions_expire_after_the_configured_ttl(database_url: str) -> None:
    ctx = await open_context(database_url, session_ttl_days=2)
    try:
        now = [1_800_000_000_000]
        ctx.accounts.deps = dataclasses.replace(ctx.accounts.deps, clock=lambda: now[0])
        user, token = await ctx.accounts.register("hal", PASSWORD)

        now[0] += 2 * DAY_MS - 1
        assert (await ctx.accounts.authenticate(token))[0] == user
        _, fresh = await ctx.accounts.login("hal", PASSWORD)
        now[0] += 1
        with pytest.raises(Unauthorized):
            await ctx.accounts.authenticate(token)
        assert (await ctx.accounts.authenticate(fresh))[0] == user  # its own two days started later
        now[0] += 2 * DAY_MS
        with pytest.raises(Unauthorized):
            await ctx.accounts.authenticate(fresh)
    finally:
        await close_context(ctx)


async def test_first_account_is_admin_and_later_ones_are_not(ctx: Context) -> None:
    # The server's own assistant (made by the first GET /api/v1/server, even before anyone
    # registers) is a bot, not the first person: the first to register still administers.
    assert (await ctx.support.assistant_account()).is_admin is False
    first, _ = await ctx.accounts.register("ida", PASSWORD)
    second, _ = await ctx.accounts.register("jon", PASSWORD)
    assert first.is_admin and not second.is_admin
    third, _ = await ctx.accounts.register("kim", PASSWORD, admin=True)
    assert third.is_admin
    assert (await ctx.accounts.login("jon", PASSWORD))[0].is_admin is False


async def test_racing_first_registrations_make_exactly_one_admin(racing: Context) -> None:
    ctx = racing
    users = await register(ctx, *[f"early{i}" for i in range(5)])
    assert sum(u.is_admin for u in users) == 1, [(u.username, u.is_admin) for u in users]


async def test_search_by_prefix_of_username_and_display_name(ctx: Context) -> None:
    await register(ctx, "lena", "leo_b", "leopold", "mia", "max", "nora", "ab_c", "abxc", "win",
                   mia="Leonie M", max="王小明", nora="李雷", win="C:\\Users 100%")

    async def found(query: str, limit: int = 50) -> list[str]:
        return [u.username for u in await ctx.accounts.search(query, limit)]

    assert await found("le") == ["lena", "leo_b", "leopold", "mia"]  # mia by display name "Leonie M"
    assert await found("LEO") == ["leo_b", "leopold", "mia"]
    assert await found("leon") == ["mia"]
    assert await found("eon") == []  # a prefix, not a substring
    assert await found("王") == ["max"]
    assert await found("王小") == ["max"]
    assert await found("小明") == []
    assert await found("李雷") == ["nora"]
    assert await found("ab_") == ["ab_c"]  # '_' is a character, not a wildcard
    assert await found("%") == []
    assert await found("c:\\u") == ["win"]  # '\\' is a character, not an escape
    assert await found("c:\\users 100%") == ["win"]
    assert await found("c:\\users 1000") == []
    assert await found("   ") == []
    assert await found("le", 2) == ["lena", "leo_b"]
    assert len(await found("l", 0)) == 1  # the limit is at least 1


async def test_searches_ignore_case_beyond_ascii(ctx: Context) -> None:
    """User search and the public room filter ignore case for every script, as they do for ASCII."""
    emile, _olga = await register(ctx, "emile", "olga", emile="Émile Zola", olga="Ölga")
    cafe = await ctx.rooms.create(emile, "Café Ünter")

    async def found(query: str) -> list[str]:
        return [u.username for u in await ctx.accounts.search(query, 10)]

    async def rooms(query: str) -> list[int]:
        return [r["id"] for r in await ctx.rooms.public(query)]

    assert await found("Émile") == ["emile"]  # exactly as stored
    assert await rooms("Café") == [cafe["id"]]
    assert await found("émile") == ["emile"]
    assert await found("öl") == ["olga"]
    assert await rooms("CAFÉ") == [cafe["id"]]
    assert await rooms("ünter") == [cafe["id"]]


async def test_connect_reads_see_what_was_committed_after_a_session_read(ctx: Context) -> None:
    """The connect reads (store/connect.py) run on a small pool of reader connections: a session
    read left half-fetched kept its snapshot open there, and later connects saw stale room ends."""
    user, token = await ctx.accounts.register("ends", PASSWORD)
    rid = (await ctx.rooms.create(user, "ends"))["id"]
    for _ in range(6):  # enough turns to use every reader connection of the pool
        assert (await ctx.accounts.authenticate(token))[0].id == user.id
        sent, _ = await ctx.messages.send(user, rid, "one more")
        cursors = await ctx.db.connects.joined_cursors(user.id)
        assert cursors[rid][0] == sent.seq
