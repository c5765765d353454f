"""``issuer keys``: the signing-key commands of the command line."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keys import KeyEncryptionKey
from keys.store import all_keys

from .cli import _settings, _table, _when, _with_sessions


@click.group()
def keys() -> None:
    """Signing keys."""


@keys.command("list")
def keys_list() -> None:
    """List signing keys with their state and transition times (UTC)."""
    settings = _settings()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[list[str]]:
        async with sessions() as session:
            return [
                [k.kid, k.alg, k.state, _when(k.created_at), _when(k.activated_at),
                 _when(k.retired_at), _when(k.removed_at)]
                for k in await all_keys(session)
            ]

    _table(["KID", "ALG", "STATE", "CREATED", "ACTIVATED", "RETIRED", "REMOVED"],
           _with_sessions(settings, work))


@keys.command("new-kek")
def keys_new_kek() -> None:
    """Print a fresh key-encryption key for ISSUER_KEK (keep it in a secret store)."""
    click.echo(KeyEncryptionKey.new_text())
