"""Bots and webhooks (issue 12) on SQLite and PostgreSQL: bot accounts and their token, who adds a bot
to a room, what a bot may not do, the webhook dispatcher's durable cursor and queue, incoming hooks,
slash commands, and the SSRF refusals made when a webhook is added."""

from __future__ import annotations

import orjson
import sqlalchemy as sa

from parley.core import bots as rules
from parley.core.proxies import parse_networks
from parley.store.tables import users, webhook_cursors, webhook_deliveries
from parley.web.context import Context
from tests.contract.helpers import close_context, open_context, outcome, register


async def _deliveries(ctx: Context) -> list[dict]:
    async with ctx.db.read() as conn:
        rows = await conn.execute(sa.select(webhook_deliveries).order_by(webhook_deliveries.c.id))
        return [r._asdict() for r in rows]


async def test_bot_account_token_rotate_delete(ctx: Context) -> None:
    owner, other = await register(ctx, "owner", "other")
    bot, token = await ctx.bots.create(owner, "pingbot", "Ping Bot")
    assert bot["bot"] is True and bot["owner_id"] == owner.id and bot["display_name"] == "Ping Bot"
    user, _session = await ctx.accounts.authenticate(token)
    assert user.id == bot["id"] and user.bot and user.owner_id == owner.id
    assert user.public()["bot"] is True and "bot" not in owner.public()
    assert await outcome(ctx.accounts.login("pingbot", "anything at all")) == "unauthorized"  # no password
    assert [b["id"] for b in await ctx.bots.list(owner)] == [bot["id"]]
    assert await ctx.bots.list(other) == []
    assert await outcome(ctx.bots.get(other, bot["id"])) == "not_found"  # not the owner: no such bot
    assert await outcome(ctx.bots.rotate(other, bot["id"])) == "not_found"
    assert await outcome(ctx.bots.create(user, "botbot")) == "forbidden"  # bots own no bots
    assert await outcome(ctx.bots.create(other, "pingbot")) == "conflict"
    fresh = await ctx.bots.rotate(owner, bot["id"])
    assert await outcome(ctx.accounts.authenticate(token)) == "unauthorized"
    assert (await ctx.accounts.authenticate(fresh))[0].id == bot["id"]
    # a disabled (or deleted) owner's bots stop working with them, and again when enabled
    async with ctx.db.write() as conn:
        await conn.execute(users.update().where(users.c.id == owner.id).values(disabled=True))
    assert await outcome(ctx.accounts.authenticate(fresh)) == "unauthorized"
    async with ctx.db.write() as conn:
        await conn.execute(users.update().where(users.c.id == owner.id).values(disabled=False))
    assert (await ctx.accounts.authenticate(fresh))[0].id == bot["id"]
    await ctx.bots.delete(owner, bot["id"])
    assert await outcome(ctx.accounts.authenticate(fresh)) == "unauthorized"
    assert await ctx.bots.list(owner) == []


async def test_who_adds_a_bot_and_what_a_bot_may_not_do(ctx: Context) -> None:
    owner, admin, member, outsider = await register(ctx, "owner", "admin", "member", "outsider")
    bot_view, token = await ctx.bots.create(member, "helper")
    bot, _ = await ctx.accounts.authenticate(token)
    rid = (await ctx.rooms.create(owner, "general"))["id"]
    private = (await ctx.rooms.create(owner, "secret", visibility="private"))["id"]
    await ctx.rooms.join(admin, rid)
    await ctx.rooms.set_role(owner, rid, admin.id, "admin")
    # a bot neither joins nor starts rooms by itself, and is not invited
    assert await outcome(ctx.rooms.join(bot, rid)) == "forbidden"
    assert await outcome(ctx.rooms.create(bot, "botroom")) == "forbidden"
    assert await outcome(ctx.rooms.direct(bot, ["owner"])) == "forbidden"
    assert await outcome(ctx.rooms.invite(owner, rid, ["helper"])) == "invalid"
    assert await outcome(ctx.messages.send(bot, rid, "hi")) == "not_found"  # not added: nothing
    # the bot's owner must be a member (a public room is visible, so: forbidden); a private room is
    # not there for those outside it
    assert await outcome(ctx.bots.add_to_room(member, rid, bot.id)) == "forbidden"
    assert await outcome(ctx.bots.add_to_room(outsider, private, bot.id)) == "not_found"
    await ctx.rooms.join(member, rid)
    await ctx.rooms.join(outsider, rid)
    assert await outcome(ctx.bots.add_to_room(outsider, rid, bot.id)) == "forbidden"  # neither admin nor owner
    assert await outcome(ctx.bots.add_to_room(admin, rid, 99999)) == "not_found"
    assert await outcome(ctx.bots.add_to_room(admin, rid, owner.id)) == "not_found"  # not a bot
    await ctx.bots.add_to_room(member, rid, bot.id)  # its owner, a member
    assert await outcome(ctx.bots.add_to_room(admin, private, bot.id)) == "not_found"  # admin of general only
    event, created = await ctx.messages.send(bot, rid, "hello from a bot")
    assert created and event.sender["bot"] is True
    page = await ctx.messages.history(owner, rid)
    joined = [m for m in page["messages"] if m["type"] == "member_joined" and m["user"]["id"] == bot.id]
    assert joined and joined[0]["user"]["bot"] is True and joined[0]["sender"]["id"] == member.id
    assert page["messages"][-1]["sender"]["bot"] is True
    assert "bot" not in page["messages"][0]["sender"]  # people carry no flag
    members = {m["user"]["username"]: m["user"] for m in await ctx.rooms.members(owner, rid)}
    assert members["helper"]["bot"] is True and "bot" not in members["owner"]
    # deleting the bot makes it leave its rooms
    await ctx.bots.delete(member, bot_view["id"])
    members = {m["user"]["username"] for m in await ctx.rooms.members(owner, rid)}
    assert "helper" not in members


async def test_webhooks_refuse_private_addresses_by_default(ctx: Context) -> None:
    owner, = await register(ctx, "owner")
    view, _ = await ctx.bots.create(owner, "hooked")
    for url in ("http://127.0.0.1:9/hook", "http://[::1]/x", "https://10.0.0.7/x", "http://169.254.169.254/latest",
                "http://[::ffff:192.168.0.1]/x", "http://0.0.0.0/"):
        assert await outcome(ctx.bots.create_webhook(owner, view["id"], url, ["message"])) == "forbidden_address", url
    assert await outcome(ctx.bots.create_webhook(owner, view["id"], "gopher://x.org/", ["message"])) == "invalid"
    assert await outcome(ctx.bots.create_webhook(owner, view["id"], "https://x.org/", ["nope"])) == "invalid"
    assert await ctx.bots.webhooks(owner, view["id"]) == []  # nothing half-stored


async def test_dispatcher_matches_through_a_durable_cursor(database_url: str) -> None:
    ctx = await open_context(database_url, webhook_allow_private="127.0.0.0/8")
    try:
        owner, alice = await register(ctx, "owner", "alice")
        view, token = await ctx.bots.create(owner, "watcher")
        bot, _ = await ctx.accounts.authenticate(token)
        rid = (await ctx.rooms.create(owner, "watched"))["id"]
        await ctx.rooms.join(alice, rid)
        await ctx.messages.send(alice, rid, "before the bot came")
        await ctx.bots.add_to_room(owner, rid, bot.id)
        refused = await outcome(ctx.bots.create_webhook(owner, bot.id, "http://10.0.0.1/hook", ["mention"]))
        assert refused == "forbidden_address"  # private, and outside the allowed 127.0.0.0/8
        hook = await ctx.bots.create_webhook(owner, bot.id, "http://127.0.0.1:9/hook", ["mention", "direct"])
        assert len(hook["secret"]) == 64
        await ctx.bots.set_commands(bot, bot.id, [_Cmd("weather", "the weather", "city")])
        assert await outcome(ctx.bots.set_commands(alice, bot.id, [_Cmd("x")])) == "not_found"
        assert await outcome(ctx.bots.set_commands(owner, bot.id, [_Cmd("me")])) == "invalid"  # built in
        await ctx.messages.send(alice, rid, "no mention here")
        await ctx.messages.send(alice, rid, "hey @watcher, ping")
        await ctx.messages.send(alice, rid, "/weather Paris")
        await ctx.messages.send(bot, rid, "@watcher talking to myself")  # its own: never delivered
        assert await ctx.bots.match_once()
        rows = await _deliveries(ctx)
        assert [(r["kind"], r["state"]) for r in rows] == [("mention", "pending"), ("command", "pending")]
        body = orjson.loads(rows[1]["body"])
        assert body["command"] == {"name": "weather", "args": "Paris"} and body["event"]["text"] == "/weather Paris"
        assert body["bot"] == bot.id and body["room"] == rid and body["webhook"] == hook["id"]
        assert not await ctx.bots.match_once()  # the cursor moved: nothing twice
        async with ctx.db.read() as conn:
            cursor = await conn.scalar(sa.select(webhook_cursors.c.seq).where(webhook_cursors.c.room_id == rid))
        assert cursor == (await ctx.rooms.get(owner, rid))["last_seq"]
        # a direct chat with the bot is matched too
        room, _ = await ctx.rooms.direct(alice, ["watcher"])
        await ctx.messages.send(alice, room["id"], "just us")
        await ctx.bots.match_once()
        assert [r["kind"] for r in await _deliveries(ctx)][-1] == "direct"
        log = await ctx.bots.deliveries(owner, bot.id)
        assert len(log) == 3 and await outcome(ctx.bots.deliveries(alice, bot.id)) == "not_found"
        commands = await ctx.bots.room_commands(alice, rid)
        assert [(c["name"], c["bot"]["username"]) for c in commands] == [("weather", "watcher")]
        # The log keeps finished deliveries for PARLEY_WEBHOOK_LOG_DAYS, pending ones whatever their age.
        ids = [r["id"] for r in await _deliveries(ctx)]
        old = ctx.bots.deps.clock() - ctx.bots.log_ms - 1
        async with ctx.db.write() as conn:
            for delivery_id, state, updated in zip(ids, ("done", "failed", "pending"), (old, old, old), strict=True):
                await conn.execute(webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id)
                                   .values(state=state, updated_at=updated))
        await ctx.messages.send(alice, rid, "@watcher once more")
        await ctx.bots.match_once()
        assert await ctx.bots.prune_once() == 2
        assert [r["state"] for r in await _deliveries(ctx)] == ["pending", "pending"]
        assert await ctx.bots.prune_once() == 0
    finally:
        await close_context(ctx)


async def test_incoming_hook_posts_as_the_bot(ctx: Context) -> None:
    owner, alice = await register(ctx, "owner", "alice")
    view, _ = await ctx.bots.create(owner, "cibot")
    rid = (await ctx.rooms.create(owner, "builds"))["id"]
    other = (await ctx.rooms.create(owner, "elsewhere"))["id"]
    assert await outcome(ctx.bots.create_hook(owner, view["id"], rid)) == "invalid"  # not in the room yet
    await ctx.bots.add_to_room(owner, rid, view["id"])
    assert await outcome(ctx.bots.create_hook(alice, view["id"], rid)) == "not_found"
    hook = await ctx.bots.create_hook(owner, view["id"], rid)
    assert hook["url"] == f"/api/v1/hooks/{hook['id']}/{hook['secret']}"
    assert await outcome(ctx.bots.post_hook(hook["id"], hook["secret"] + "x", "nope")) == "not_found"
    assert await outcome(ctx.bots.post_hook(hook["id"] + 1, hook["secret"], "nope")) == "not_found"
    event = await ctx.bots.post_hook(hook["id"], hook["secret"], "build #12 passed")
    assert event.room_id == rid and event.sender["bot"] is True and event.data["text"] == "build #12 passed"
    assert other != rid and (await ctx.messages.history(owner, other))["messages"][-1]["type"] != "message"


async def test_webhook_url_rules() -> None:
    allowed = parse_networks("127.0.0.0/8")
    for refused in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fe80::1",
                    "fc00::1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "0.0.0.0", "100.64.0.1", "224.0.0.1",
                    "64:ff9b::a00:1", "2002:a00:1::1"):
        assert not rules.address_allowed(refused, ()), refused
    assert rules.address_allowed("127.0.0.1", allowed) and not rules.address_allowed("10.0.0.1", allowed)
    assert rules.address_allowed("93.184.215.14", ()) and rules.address_allowed("2606:4700::1111", ())
    for bad in ("ftp://example.com/x", "http://user:pw@example.com/", "example.com", "http:///x", 5):
        try:
            rules.webhook_url(bad)
        except Exception as exc:  # noqa: BLE001 - the code is checked
            assert getattr(exc, "code", None) == "invalid"
        else:
            raise AssertionError(bad)
    assert rules.parse_command("/weather Paris now") == ("weather", "Paris now")
    assert rules.parse_command("//weather") is None and rules.parse_command("/ weather") is None
    sig = rules.sign("s3cret", 1700000000, b'{"a":1}')
    assert rules.verify("s3cret", "1700000000", b'{"a":1}', sig) and not rules.verify("x", 1700000000, b"{}", sig)
    assert [rules.backoff_ms(n, 1000) for n in (1, 2, 3, 4)] == [1000, 2000, 4000, 8000]


class _Cmd:
    def __init__(self, name: str, description: str = "", usage: str = "") -> None:
        self.name, self.description, self.usage = name, description, usage
