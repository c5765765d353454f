"""The running issuer: database, key manager, password hasher and token minter together.

:class:`Issuer` is what the web layer and the CLI share. ``start`` brings the schema up
to date, makes sure a signing key is active and loads the key set; a background task
then reloads the key set every ``ISSUER_KEY_RELOAD_INTERVAL`` seconds, so a rotation made
by the operators' script or by another process is served without a restart. With
``ISSUER_KEY_AUTO_ROTATE`` (the default) the same task applies due rotation steps itself,
waking at the second a step is due, so a deployment without cron rotates too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import anyio.to_thread
from sqlalchemy import text

from keys import InvalidPolicy, KeyEncryptionKey, KeyManager, Policy, advance, ensure_active_key

from .clients import ClientDirectory
from .db import create_async_engine, is_sqlite, read_session_factory, session_factory
from .errors import ConfigurationError
from .kek import load_kek
from .migrate import upgrade
from .passwords import Passwords
from .refresh import SUCCESSOR_PURPOSE, RefreshTokens
from .settings import Settings
from .tokens import TokenMinter

logger = logging.getLogger("issuer")

Clock = Callable[[], float]


def key_policy(settings: Settings) -> Policy:
    """The rotation policy of :mod:`keys.lifecycle` from the ``ISSUER_*`` settings."""
    try:
        return Policy(
            signing_alg=settings.signing_alg,
            jwks_max_age=settings.jwks_max_age,
            propagation_margin=settings.key_propagation_margin,
            longest_token_ttl=settings.longest_token_ttl,
            clock_leeway=settings.clock_leeway,
            rotation_period=settings.key_rotation_period,
            rsa_key_size=settings.rsa_key_size,
        )
    except InvalidPolicy as exc:
        raise ConfigurationError(
            f"ISSUER_KEY_ROTATION_PERIOD, ISSUER_JWKS_MAX_AGE, ISSUER_KEY_PROPAGATION_MARGIN: "
            f"{exc}"
        ) from None


class Issuer:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = time.time,
        kek: KeyEncryptionKey | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.kek = kek if kek is not None else load_kek(settings)
        self.engine = create_async_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            single_writer=True,
        )
        self.sessions = session_factory(self.engine)
        self.read_engine = self.engine
        if is_sqlite(settings.database_url):
            self.read_engine = create_async_engine(settings.database_url)
        self.reads = read_session_factory(self.read_engine)
        self.clients = ClientDirectory(self.reads, settings.client_cache_seconds, clock)
        self.keys = KeyManager(self.sessions, self.kek)
        self.key_policy = key_policy(settings)
        self._next_key_step: int | None = None
        self.passwords = Passwords(settings)
        self.minter = TokenMinter(settings, self.keys, clock)
        self.refresh = RefreshTokens(
            settings, self.sessions, clock, self.kek.derive(SUCCESSOR_PURPOSE), self.reads
        )
        self._reloader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.settings.auto_migrate:
            await anyio.to_thread.run_sync(upgrade, self.settings.database_url)
        await ensure_active_key(
            self.sessions,
            self.kek,
            self.settings.signing_alg,
            self.clock,
            rsa_key_size=self.settings.rsa_key_size,
        )
        await self.advance_keys()
        await self.keys.reload()
        self._reloader = asyncio.create_task(self._reload_forever())

    async def stop(self) -> None:
        if self._reloader is not None:
            self._reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloader
            self._reloader = None
        self.passwords.close()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()

    async def database_ready(self) -> bool:
        try:
            async with self.reads() as session:
                await session.execute(text("SELECT 1"))
        except Exception:  # any driver error means "not ready"; the probe must not raise
            logger.warning("readiness: database unreachable", exc_info=True)
            return False
        return True

    async def advance_keys(self) -> None:
        """Apply the due key-lifecycle steps, if ``ISSUER_KEY_AUTO_ROTATE``; never raises.

        Several processes may do this at once: :func:`keys.advance` performs each step once.
        """
        if not self.settings.key_auto_rotate:
            return
        try:
            outcome = await advance(self.sessions, self.kek, self.key_policy, self.clock)
        except Exception:  # a failed step is retried next time; the last key set stays
            self._next_key_step = None
            logger.warning("key rotation step failed; will retry", exc_info=True)
            return
        for step in outcome.steps:
            logger.info("key lifecycle: %s", step.describe(done=True))
        upcoming = outcome.upcoming
        self._next_key_step = upcoming.due_at if upcoming is not None else None

    def _reload_delay(self) -> float:
        """The reload interval, or less when a key step falls due sooner: waking at that
        second makes the transition happen, and be served, at its scheduled time."""
        interval = self.settings.key_reload_interval
        if self._next_key_step is None:
            return interval
        until = self._next_key_step - self.clock()
        return min(interval, until if until > 0 else 1.0)

    async def _reload_forever(self) -> None:
        while True:
            await asyncio.sleep(self._reload_delay())
            await self.advance_keys()
            try:
                await self.keys.reload()
            except Exception:  # keep serving the last good set; say so in the log
                logger.warning("key set reload failed; serving the previous set", exc_info=True)
