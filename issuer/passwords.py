"""Password hashing with argon2id, kept off the event loop and out of its way.

argon2 takes tens of milliseconds of CPU and a lot of memory by design. It runs in a
small pool of its own (``ISSUER_ARGON2_THREADS``) whose threads run at a lower
scheduling priority (``ISSUER_ARGON2_NICE``), so that during a login storm the event
loop still gets the CPU it needs for token minting and the JWKS; logins queue instead.
A hash made under older parameters is replaced at the next successful login.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .settings import Settings

T = TypeVar("T")


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._decoy: str | None = None
        self._nice = settings.argon2_nice
        self._pool = ThreadPoolExecutor(
            max_workers=settings.argon2_threads, thread_name_prefix="argon2",
            initializer=self._lower_priority,
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    async def hash_async(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def _lower_priority(self) -> None:
        # On Linux a thread id names one thread for setpriority; elsewhere this may fail,
        # and the pool then runs at normal priority.
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Check ``password``; with no stored hash, do the same work and answer False.

        Doing the work for unknown emails too keeps the answer time from telling
        whether an account exists.
        """
        if stored_hash is None:
            await self._run(self._check, await self._decoy_hash(), password)
            return False
        return await self._run(self._check, stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    async def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = await self.hash_async(secrets.token_urlsafe(16))
        return self._decoy

    def _check(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
