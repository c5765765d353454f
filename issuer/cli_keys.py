"""``issuer keys``: the signing-key commands of the command line.

``rotate`` is what cron runs (``scripts/rotate_keys.py`` calls it): idempotent, safe every
few minutes, one line for each step it takes. Exit status: 0 when all is well, 1 on an
error (configuration, key-encryption key, database), 2 when a step is refused because it
would break a rule of the key policy and ``--force`` was not given.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keys import (
    KeyEncryptionKey,
    KeyLifecycleError,
    Outcome,
    Policy,
    RotationRefused,
    Step,
    advance,
    plan,
    revoke,
    rewrap,
)
from keys.lifecycle import ACTIVATE, PUBLISH, REMOVE
from keys.sealing import sealed_kek_id
from keys.store import REMOVED, SigningKey, all_keys

from .cli import _settings, _table, _when
from .db import create_async_engine, session_factory
from .errors import IssuerError
from .kek import load_kek
from .migrate import upgrade
from .service import key_policy
from .settings import Settings

T = TypeVar("T")

EXIT_REFUSED = 2


class Refused(click.ClickException):
    """A step refused because it breaks a rule; exit status 2."""

    exit_code = EXIT_REFUSED


@dataclass(frozen=True)
class KeyContext:
    """What every key command needs: the sessions, the KEK and the rotation policy."""

    sessions: async_sessionmaker[AsyncSession]
    kek: KeyEncryptionKey
    policy: Policy
    settings: Settings


@contextmanager
def _errors_as_exit_codes() -> Iterator[None]:
    try:
        yield
    except RotationRefused as exc:
        raise Refused(f"{exc}; add --force to do it anyway [{exc.code}]") from None
    except (IssuerError, KeyLifecycleError) as exc:
        raise click.ClickException(f"{exc} [{exc.code}]") from None
    except (SQLAlchemyError, OSError) as exc:
        # The driver's first line names the cause (refused, no such file) without the URL.
        cause = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise click.ClickException(
            f"database unreachable: {cause} [database_unavailable]"
        ) from None


def _run_keys(
    settings: Settings, work: Callable[[KeyContext], Awaitable[T]], *, migrate: bool = True
) -> T:
    """Run ``work`` with a :class:`KeyContext`, mapping every failure to an exit status."""

    async def run(context_kek: KeyEncryptionKey, policy: Policy) -> T:
        engine = create_async_engine(settings.database_url)
        try:
            return await work(KeyContext(session_factory(engine), context_kek, policy, settings))
        finally:
            await engine.dispose()

    with _errors_as_exit_codes():
        kek, policy = load_kek(settings), key_policy(settings)
        if migrate and settings.auto_migrate:
            upgrade(settings.database_url)
        return asyncio.run(run(kek, policy))


@click.group()
def keys() -> None:
    """Signing keys."""


@keys.command("list")
def keys_list() -> None:
    """List signing keys with the times of each transition, past and planned (UTC)."""
    settings = _settings()

    async def work(context: KeyContext) -> list[list[str]]:
        async with context.sessions() as session:
            rows = await all_keys(session)
        return key_table(rows, plan(rows, context.policy, int(time.time())))

    _table(["KID", "ALG", "STATE", "KEK", "PUBLISHED", "ACTIVATED", "RETIRED", "REMOVED"],
           _run_keys(settings, work))
    click.echo("times in UTC; ~ marks a planned time")


@keys.command("rotate")
@click.option("--dry-run", is_flag=True, help="Print the plan with its times; change nothing.")
@click.option("--now", "early", is_flag=True,
              help="Also take the next rotation step ahead of its time, if it breaks no rule.")
@click.option("--force", is_flag=True,
              help="Take the next rotation step now even if it breaks a rule (compromised "
                   "key); says what it breaks.")
def keys_rotate(dry_run: bool, early: bool, force: bool) -> None:
    """Advance the key lifecycle: do every step that is due (run it from cron)."""
    settings = _settings()

    async def work(context: KeyContext) -> Outcome:
        return await advance(context.sessions, context.kek, context.policy, time.time,
                             early=early, force=force, dry_run=dry_run)

    # A dry run changes nothing, not even the schema.
    for line in rotation_report(_run_keys(settings, work, migrate=not dry_run)):
        click.echo(line)


# A kid is base64url and may start with "-": unknown "options" are taken as the KID.
@keys.command("revoke", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@click.option("--force", is_flag=True,
              help="Needed when live tokens break: the active key, or a retired key whose "
                   "tokens have not all expired.")
def keys_revoke(kid: str, force: bool) -> None:
    """Revoke a compromised key: unpublish it now and destroy its private part."""
    settings = _settings()

    async def work(context: KeyContext) -> list[str]:
        done = await revoke(context.sessions, context.kek, context.policy, kid, time.time,
                            force=force)
        if done.previous_state == REMOVED:
            return [f"{kid} was removed already; nothing to do"]
        lines = [f"revoked {kid} ({done.previous_state}): removed from the key set, "
                 f"private part destroyed"]
        if done.replacement is not None:
            lines.append(f"activated {done.replacement} in its place")
        lines += [f"breaks: {what}" for what in done.breaks]
        lines.append(
            f"running issuers serve the new key set within {settings.key_reload_interval:g} s "
            f"(ISSUER_KEY_RELOAD_INTERVAL); verifiers drop {kid} when their cached copy "
            f"expires, within {settings.jwks_max_age} s"
        )
        return lines

    for line in _run_keys(settings, work):
        click.echo(line)


@keys.command("rewrap")
@click.option("--new-kek-file", type=click.Path(dir_okay=False, path_type=Path),
              help="A file holding the new key-encryption key.")
@click.option("--new-kek-stdin", is_flag=True, help="Read the new key-encryption key.")
def keys_rewrap(new_kek_file: Path | None, new_kek_stdin: bool) -> None:
    """Re-encrypt every stored private key under a new key-encryption key, all or nothing."""
    if (new_kek_file is None) == (not new_kek_stdin):
        raise click.UsageError("give exactly one of --new-kek-file FILE and --new-kek-stdin")
    settings = _settings()
    with _errors_as_exit_codes():
        text = sys.stdin.readline() if new_kek_file is None else _read_kek_file(new_kek_file)
        new_kek = KeyEncryptionKey.from_text(text)

    async def work(context: KeyContext) -> list[str]:
        done = await rewrap(context.sessions, context.kek, new_kek)
        old = ", ".join(done.old_kek_ids) or context.kek.kek_id
        lines = [f"resealed {len(done.resealed)} private key(s): key-encryption key {old} "
                 f"replaced by {done.new_kek_id}"]
        if done.unchanged:
            lines.append(f"{len(done.unchanged)} key(s) were sealed under {done.new_kek_id} "
                         f"already")
        lines.append("now set ISSUER_KEK (or ISSUER_KEK_FILE) to the new key and restart "
                     "every issuer; run rewrap again if a key was published in between")
        return lines

    for line in _run_keys(settings, work):
        click.echo(line)


@keys.command("new-kek")
def keys_new_kek() -> None:
    """Print a fresh key-encryption key for ISSUER_KEK (keep it in a secret store)."""
    click.echo(KeyEncryptionKey.new_text())


def rotation_report(outcome: Outcome) -> list[str]:
    """The lines ``keys rotate`` prints: one a step, or what comes next."""
    if outcome.dry_run:
        return _dry_run_report(outcome)
    if outcome.conflict:
        return ["another run moved the keys on at the same time; nothing done here"]
    if not outcome.steps:
        upcoming = outcome.upcoming
        when = f" at {_utc(upcoming.due_at)}" if upcoming is not None else ""
        what = upcoming.describe() if upcoming is not None else "none planned"
        return [f"nothing due; next step: {what}{when}"]
    lines = []
    for step in outcome.steps:
        lines.append(step.describe(done=True))
        if step.breaks:
            lines.append(f"  forced, breaking the key policy: {step.breaks}")
    return lines


def _dry_run_report(outcome: Outcome) -> list[str]:
    lines = [f"dry run at {_utc(outcome.now)}: nothing is changed"]
    for step in outcome.steps:
        note = f" (forced: {step.breaks})" if step.breaks else ""
        lines.append(f"  {_utc(step.due_at)}  would now {step.describe()}{note}")
    for step in outcome.plan:
        if step.due_at > outcome.now or step.follows:
            lines.append(f"  {_utc(step.due_at)}  planned: {step.describe()}")
    if len(lines) == 1:
        lines.append("  nothing planned")
    return lines


def key_table(rows: list[SigningKey], steps: list[Step]) -> list[list[str]]:
    """One row a key: past transition times as they happened, planned ones with ``~``."""
    table = [_key_row(row, steps) for row in rows]
    publish = next((step for step in steps if step.action == PUBLISH), None)
    if publish is not None:
        activate = next((s for s in steps if s.action == ACTIVATE and s.kid is None), None)
        table.append(["(next key, not generated yet)", publish.alg, "-", "-",
                      _planned(publish.due_at), _planned(activate and activate.due_at), "", ""])
    return table


def _key_row(row: SigningKey, steps: list[Step]) -> list[str]:
    def planned(action: str, *, retiring: bool = False) -> str:
        match = next((step for step in steps if step.action == action
                      and (step.retires if retiring else step.kid) == row.kid), None)
        return _planned(match.due_at if match is not None else None)

    kek = sealed_kek_id(row.sealed_private) if row.sealed_private else "destroyed"
    return [
        row.kid, row.alg, row.state, kek, _when(row.published_at or row.created_at),
        _when(row.activated_at) if row.activated_at else planned(ACTIVATE),
        _when(row.retired_at) if row.retired_at else planned(ACTIVATE, retiring=True),
        _when(row.removed_at) if row.removed_at else planned(REMOVE),
    ]


def _planned(timestamp: int | None) -> str:
    return "" if timestamp is None else "~" + _when(timestamp)


def _utc(timestamp: int) -> str:
    return _when(timestamp) + " UTC"


def _read_kek_file(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise click.ClickException(f"--new-kek-file {path}: {exc.strerror}") from None
