"""Password hashing with argon2id, kept off the event loop.

argon2 takes tens of milliseconds and a lot of memory by design; running it in a worker
thread keeps every other request (token minting, the JWKS) responsive during a login
storm. A hash made under older parameters is replaced at the next successful login.
"""

from __future__ import annotations

import secrets

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .settings import Settings


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    async def hash_async(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Check ``password``; with no stored hash, do the same work and answer False.

        Doing the work for unknown emails too keeps the answer time from telling
        whether an account exists.
        """
        if stored_hash is None:
            await anyio.to_thread.run_sync(self._check, await self._decoy_hash(), password)
            return False
        return await anyio.to_thread.run_sync(self._check, stored_hash, password)

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
