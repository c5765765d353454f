"""The ``issuer`` command line. Operators script it, so its arguments stay stable."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keys import KeyLifecycleError

from .clients import create_client, get_client, list_clients
from .db import create_async_engine, session_factory
from .demo import create_demo_accounts
from .errors import InvalidInput, IssuerError
from .housekeeping import Pruned, prune
from .migrate import upgrade
from .models import Client, User
from .passwords import Passwords
from .refresh import revoke_user_families
from .service import Issuer
from .settings import Settings, load_settings
from .users import create_user, find_user_by_email, list_users

T = TypeVar("T")


@contextmanager
def _errors_as_messages() -> Iterator[None]:
    try:
        yield
    except (IssuerError, KeyLifecycleError) as exc:
        raise click.ClickException(f"{exc} [{exc.code}]") from None


def _settings(**overrides: object) -> Settings:
    with _errors_as_messages():
        return load_settings(**overrides)


def _with_sessions(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    async def run() -> T:
        engine = create_async_engine(settings.database_url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    with _errors_as_messages():
        if settings.auto_migrate:
            upgrade(settings.database_url)
        return asyncio.run(run())


def quiet_noisy_loggers() -> None:
    """Database drivers log statement parameters at DEBUG: hashes and sealed keys among
    them. Keep them above DEBUG whatever the service's own level."""
    for name in ("alembic", "aiosqlite", "sqlalchemy.engine", "psycopg"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    quiet_noisy_loggers()


@click.group()
def main() -> None:
    """Token issuer: OAuth 2 / OpenID Connect with self-rotating signing keys."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--dev", is_flag=True, help="Development mode: generated KEK, demo accounts.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes; they share the database and behave as one issuer.")
def serve(host: str, port: int, dev: bool, workers: int) -> None:
    """Run the issuer with uvicorn."""
    import uvicorn

    from .web import create_app

    # Workers read their settings from the environment, so options go there too.
    if dev:
        os.environ["ISSUER_DEV"] = "true"
    os.environ.setdefault("ISSUER_URL", f"http://{host}:{port}")
    settings = _settings()
    _configure_logging(settings)
    with _errors_as_messages():
        issuer = Issuer(settings)
        if settings.dev:
            instructions = asyncio.run(_prepare_dev(settings))
            if instructions:
                click.echo(instructions, err=True)
        if workers == 1:
            uvicorn.run(create_app(issuer), host=host, port=port, log_config=None,
                        access_log=False)
        else:
            uvicorn.run("issuer.web.asgi:create_app_from_environment", factory=True,
                        host=host, port=port, workers=workers, log_config=None,
                        access_log=False)


async def _prepare_dev(settings: Settings) -> str | None:
    issuer = Issuer(settings)
    try:
        await issuer.start()
        return await create_demo_accounts(
            issuer.sessions, issuer.passwords, settings, int(time.time())
        )
    finally:
        await issuer.stop()


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration not yet applied (safe to run from several hosts at once)."""
    settings = _settings()
    with _errors_as_messages():
        upgrade(settings.database_url)
    click.echo("schema is current")


@db.command("prune")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100000))
def db_prune(batch_size: int) -> None:
    """Delete expired refresh-token families and expired revoked access-token ids."""
    settings = _settings()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> Pruned:
        return await prune(sessions, int(time.time()), batch_size=batch_size)

    pruned = _with_sessions(settings, work)
    click.echo(
        f"pruned {pruned.families} refresh-token families ({pruned.refresh_tokens} tokens) "
        f"and {pruned.revoked_access_tokens} revoked access-token ids"
    )


@main.group()
def users() -> None:
    """Users (resource owners)."""


@users.command("add")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password.")
@click.option("--role", "roles", multiple=True, help="A role; repeat for several.")
@click.option("--given-name")
@click.option("--family-name")
def users_add(
    email: str, password_stdin: bool, roles: tuple[str, ...],
    given_name: str | None, family_name: str | None,
) -> None:
    """Add a user; the password comes from standard input, never from the command line."""
    password = sys.stdin.readline().rstrip("\r\n")
    settings = _settings()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> str:
        async with sessions() as session, session.begin():
            user = await create_user(
                session, Passwords(settings), email, password, now=int(time.time()),
                roles=roles, given_name=given_name, family_name=family_name,
            )
            return user.id

    click.echo(f"user {email} added with id {_with_sessions(settings, work)}")


@users.command("revoke-sessions")
@click.argument("email")
def users_revoke_sessions(email: str) -> None:
    """Revoke every refresh-token family of a user (signs them out everywhere)."""
    settings = _settings()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with sessions() as session, session.begin():
            user = await find_user_by_email(session, email)
            if user is None:
                raise InvalidInput(f"no user with email {email}", field="email")
            return await revoke_user_families(session, user.id, int(time.time()))

    click.echo(f"revoked {_with_sessions(settings, work)} session(s) of {email}")


@users.command("disable")
@click.argument("email")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
def users_disable(email: str, enable: bool) -> None:
    """Disable a user: logins, refreshes, introspection and /userinfo refuse at once."""
    _set_disabled(f"user {email}", lambda session: find_user_by_email(session, email), enable)


@users.command("list")
def users_list() -> None:
    """List users."""
    settings = _settings()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[list[str]]:
        async with sessions() as session:
            return [
                [u.id, u.email, ",".join(u.roles), "disabled" if u.disabled else "enabled"]
                for u in await list_users(session)
            ]

    _table(["ID", "EMAIL", "ROLES", "STATUS"], _with_sessions(settings, work))


@main.group()
def clients() -> None:
    """OAuth clients."""


@clients.command("add")
@click.argument("client_id")
@click.option("--grant", "grants", multiple=True, required=True,
              help="password, client_credentials or refresh_token; repeat for several.")
@click.option("--scope", "scopes", multiple=True, help="An allowed scope; repeat for several.")
@click.option("--audience", help="The aud of this client's access tokens.")
@click.option("--public", is_flag=True, help="A public client: no secret, password grant.")
def clients_add(
    client_id: str, grants: tuple[str, ...], scopes: tuple[str, ...],
    audience: str | None, public: bool,
) -> None:
    """Register a client and print its secret, once."""
    settings = _settings()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> str | None:
        async with sessions() as session, session.begin():
            _, secret = await create_client(
                session, client_id, now=int(time.time()), grants=grants, scopes=scopes,
                audience=audience, public=public,
            )
            return secret

    secret = _with_sessions(settings, work)
    click.echo(f"client {client_id} added")
    if secret is not None:
        click.echo(f"client_secret: {secret}")
        click.echo("(store it now: only its hash is kept, it cannot be shown again)")


@clients.command("disable")
@click.argument("client_id")
@click.option("--enable", is_flag=True, help="Enable the client again instead.")
def clients_disable(client_id: str, enable: bool) -> None:
    """Disable a client: its grants and its tokens are refused at once."""
    _set_disabled(f"client {client_id}", lambda session: get_client(session, client_id), enable)


def _set_disabled(
    what: str, find: Callable[[AsyncSession], Awaitable[User | Client | None]], enable: bool
) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            found = await find(session)
            if found is None:
                raise InvalidInput(f"no {what}")
            found.disabled = not enable

    _with_sessions(_settings(), work)
    click.echo(f"{what} {'enabled' if enable else 'disabled'}")


@clients.command("list")
def clients_list() -> None:
    """List clients."""
    settings = _settings()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[list[str]]:
        async with sessions() as session:
            return [
                [c.client_id, "public" if c.public else "confidential", ",".join(c.grants),
                 " ".join(c.scopes), c.audience or f"({settings.default_audience})"]
                for c in await list_clients(session)
            ]

    _table(["CLIENT_ID", "TYPE", "GRANTS", "SCOPES", "AUDIENCE"], _with_sessions(settings, work))


def _when(timestamp: int | None) -> str:
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


def _table(headers: list[str], rows: list[list[str]]) -> None:
    columns = zip(headers, *rows, strict=False)
    widths = [max(len(str(cell)) for cell in column) for column in columns]
    for row in [headers, *rows]:
        cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


def _register_subcommands() -> None:
    from .cli_keys import keys

    main.add_command(keys)


_register_subcommands()
