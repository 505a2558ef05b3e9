"""The `parley` command. Each command parses its options, then calls a plain function."""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path
from typing import Any

import click

from parley.config import Settings, from_env


def _settings(**overrides: Any) -> Settings:
    try:
        return from_env(**overrides)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _ensure_sqlite_dir(url: str) -> None:
    from parley.store.db import is_sqlite

    if is_sqlite(url) and url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)


@click.group()
def main() -> None:
    """Parley: self-hosted real-time chat."""


@main.command()
@click.option("--host", default=None, help="address to listen on [PARLEY_HOST, 127.0.0.1]")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="port [PARLEY_PORT, 8000]")
@click.option("--database-url", default=None, help="[PARLEY_DATABASE_URL, sqlite:///var/parley.db]")
@click.option("--broker-url", default=None, help="[PARLEY_BROKER_URL, memory://]")
@click.option("--export-url", default=None, help="publish every room event to amqp://... [PARLEY_EXPORT_URL]")
@click.option("--migrate/--no-migrate", default=True, help="apply migrations first (default on)")
@click.option("--tls-cert", default=None, help="PEM certificate chain: serve HTTPS and WSS [PARLEY_TLS_CERT]")
@click.option("--tls-key", default=None, help="PEM private key of --tls-cert [PARLEY_TLS_KEY]")
def serve(host: str | None, port: int | None, database_url: str | None, broker_url: str | None,
          export_url: str | None, migrate: bool, tls_cert: str | None, tls_key: str | None) -> None:
    """Serve HTTP (or HTTPS), WebSocket and the web client."""
    settings = _settings(host=host, port=port, database_url=database_url, broker_url=broker_url,
                         export_url=export_url, tls_cert=tls_cert, tls_key=tls_key)
    run_server(settings, migrate=migrate)


def run_server(settings: Settings, *, migrate: bool = True) -> None:
    from parley.app import ConfigError, claim_sqlite, create_app
    from parley.store.migrate import upgrade
    from parley.web.logs import configure
    from parley.web.server import serve, tls_context

    configure(settings.log_level, settings.log_format)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    _ensure_sqlite_dir(settings.database_url)
    tls = None
    if settings.tls_cert:
        try:
            tls = tls_context(settings.tls_cert, settings.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise click.UsageError(f"PARLEY_TLS_CERT / PARLEY_TLS_KEY: cannot use {settings.tls_cert} and "
                                   f"{settings.tls_key}: {exc}") from None
    try:
        app = create_app(settings)
        lock = claim_sqlite(settings)  # noqa: F841 - held while serving
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if migrate:
        asyncio.run(upgrade(settings.database_url))
    from parley.blobs.base import BlobError

    try:
        serve(app, settings.host, settings.port, shutdown_timeout=5, tls=tls, backlog=settings.listen_backlog)
    except BlobError as exc:  # the media store cannot be reached or used at start
        raise click.ClickException(str(exc)) from None


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
@click.option("--database-url", default=None)
def db_upgrade(database_url: str | None) -> None:
    """Apply all migrations."""
    from parley.store.migrate import current, upgrade

    settings = _settings(database_url=database_url)
    _ensure_sqlite_dir(settings.database_url)
    asyncio.run(upgrade(settings.database_url))
    click.echo(f"database at revision {asyncio.run(current(settings.database_url))}")


@main.group()
def user() -> None:
    """User administration."""


async def _with_context(settings: Settings, action: Any) -> Any:
    from parley.app import build

    context = build(settings)
    try:
        return await action(context)
    finally:
        await context.uploads.close()
        await context.db.close()


@user.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--display-name", default=None)
@click.option("--admin", is_flag=True, help="make the user a server admin")
@click.option("--database-url", default=None)
def user_create(username: str, password: str, display_name: str | None, admin: bool, database_url: str | None) -> None:
    """Create a user."""
    from parley.core.errors import ParleyError

    async def action(ctx: Any) -> Any:
        return await ctx.accounts.register(username, password, display_name, admin=admin, operator=True)

    try:
        created, _ = asyncio.run(_with_context(_settings(database_url=database_url), action))
    except ParleyError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created user {created.username} (id {created.id}{', admin' if created.is_admin else ''})")


@user.command("disable")
@click.argument("username")
@click.option("--database-url", default=None)
def user_disable(username: str, database_url: str | None) -> None:
    """Disable a user and revoke all of their sessions."""
    from parley.core.errors import ParleyError

    try:
        disabled = asyncio.run(_with_context(_settings(database_url=database_url),
                                             lambda ctx: ctx.accounts.disable(username)))
    except ParleyError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"disabled user {disabled.username}; their sessions are revoked")


@main.group()
def admin() -> None:
    """Server administration: the registration mode and invite codes."""


def _run(database_url: str | None, action: Any) -> Any:
    from parley.core.errors import ParleyError

    try:
        return asyncio.run(_with_context(_settings(database_url=database_url), action))
    except ParleyError as exc:
        raise click.ClickException(exc.message) from None


@admin.command("registration")
@click.argument("mode", required=False, type=click.Choice(["open", "invite", "closed"]))
@click.option("--database-url", default=None)
def admin_registration(mode: str | None, database_url: str | None) -> None:
    """Show the registration mode, or set it (open, invite or closed) for every node."""

    async def action(ctx: Any) -> Any:
        if mode is None:
            return (await ctx.admin.server())["registration"]
        return (await ctx.admin.set_registration(None, mode))["mode"]

    click.echo(f"registration: {_run(database_url, action)}")


@admin.command("invite")
@click.option("--uses", type=click.IntRange(1, 1000), default=1, show_default=True, help="accounts it may create")
@click.option("--expires", default="7d", show_default=True, help="valid for: seconds, or 30m, 12h, 7d, 2w")
@click.option("--database-url", default=None)
def admin_invite(uses: int, expires: str, database_url: str | None) -> None:
    """Make an invite code for the `invite` registration mode."""
    from parley.core.admin import parse_duration

    async def action(ctx: Any) -> Any:
        return await ctx.admin.create_invite(None, uses, parse_duration(expires))

    invite = _run(database_url, action)
    click.echo(f"{invite['code']}\n(for {uses} account(s), valid for {expires})")


@main.group()
def room() -> None:
    """Room administration."""


@room.command("create")
@click.argument("name")
@click.option("--owner", required=True, help="username of the room's owner")
@click.option("--topic", default="")
@click.option("--private", is_flag=True, help="invite-only")
@click.option("--database-url", default=None)
def room_create(name: str, owner: str, topic: str, private: bool, database_url: str | None) -> None:
    """Create a room owned by an existing user."""
    from parley.core.errors import NotFound, ParleyError
    from parley.store import users as user_store

    async def action(ctx: Any) -> Any:
        async with ctx.db.read() as conn:
            found = await user_store.by_username(conn, owner)
        if found is None:
            raise NotFound(f"no user named {owner!r}")
        return await ctx.rooms.create(found[0], name, topic, "private" if private else "public")

    try:
        created = asyncio.run(_with_context(_settings(database_url=database_url), action))
    except ParleyError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created room {created['name']} (id {created['id']}, {created['visibility']})")


@main.group()
def media() -> None:
    """Uploaded files."""


@media.command("collect")
@click.option("--database-url", default=None)
def media_collect(database_url: str | None) -> None:
    """Remove uploads never attached to a message within a day, the files nothing uses any more, and
    files older than a day that no upload names (left by a crash mid-upload). Each server also does
    it every hour."""

    async def action(ctx: Any) -> Any:
        await ctx.uploads.start(collect=False)
        return await ctx.uploads.collect()

    done = asyncio.run(_with_context(_settings(database_url=database_url), action))
    click.echo(f"removed {done.uploads} unattached upload(s) and {done.orphans} orphan file(s)")


@main.group()
def export() -> None:
    """The event stream for other systems (PARLEY_EXPORT_URL)."""


@export.command("status")
@click.option("--database-url", default=None)
def export_status(database_url: str | None) -> None:
    """Which node exports, and how many events the stream is behind (every node's commits count)."""
    from parley.services.export import status

    async def action(ctx: Any) -> Any:
        return await status(ctx.messages.deps)

    found = _run(database_url, action)
    holder = found["holder"] or "none (no node exports now)"
    click.echo(f"exporting node: {holder}\nbehind: {found['events_behind']} event(s) in {found['rooms_behind']} room(s)")



@main.command("capacity")
@click.option("--room-size", "-R", type=click.IntRange(1), required=True, help="members of each room")
@click.option("--rate", type=click.FloatRange(0, min_open=True), required=True, help="messages per second, all rooms")
@click.option("--nodes", type=click.IntRange(1), default=1, show_default=True, help="nodes sharing the load")
@click.option("--p99-target", type=click.FloatRange(0, min_open=True), default=20.0, show_default=True,
              help="send-to-delivery p99 to stay under, ms")
@click.option("--constants", type=click.Path(exists=True, dir_okay=False), default=None,
              help="a JSON of fitted constants (default: the one bench/capacity.py --write stored)")
def capacity(room_size: int, rate: float, nodes: int, p99_target: float, constants: str | None) -> None:
    """Predict a deployment's load and latency from the measured capacity model (docs/performance.md)."""
    import json
    from importlib import resources

    from parley.core import capacity as model

    raw = (Path(constants).read_text("utf-8") if constants else
           resources.files("parley.core.data").joinpath("capacity.json").read_text("utf-8"))
    lines, ok = model.report(model.Constants.from_dict(json.loads(raw)), room_size, rate, nodes, p99_target / 1e3)
    for line in lines:
        click.echo(line, err=line.startswith("WARNING"))
    sys.exit(0 if ok else 3)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
