"""Signing keys in the database, and the rules that keep them safe under races.

Exactly one key is ``active`` and at most one is ``next``: partial unique indexes on
``state`` enforce both in the database itself, so two processes that both find no
active (or no next) key and both try to create one cannot both succeed, on SQLite or
PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import anyio.to_thread
from sqlalchemy import BigInteger, Index, Table, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import Field, SQLModel, col, select

from .errors import NoActiveKey
from .jwk import generate_private_key, public_jwk, serialize_private_key
from .sealing import KeyEncryptionKey

Clock = Callable[[], float]

NEXT = "next"
ACTIVE = "active"
RETIRED = "retired"
REMOVED = "removed"
PUBLISHED_STATES = (NEXT, ACTIVE, RETIRED)


class SigningKey(SQLModel, table=True):
    """One signing key and the times of its lifecycle, as integer Unix seconds."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        Index(
            "ix_signing_keys_one_active",
            "state",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        Index(
            "ix_signing_keys_one_next",
            "state",
            unique=True,
            sqlite_where=text("state = 'next'"),
            postgresql_where=text("state = 'next'"),
        ),
    )

    kid: str = Field(primary_key=True, max_length=64)
    alg: str = Field(max_length=16)
    state: str = Field(max_length=16, index=True)
    public_jwk: str
    sealed_private: str | None = None
    created_at: int = Field(sa_type=BigInteger)
    published_at: int | None = Field(default=None, sa_type=BigInteger)
    activated_at: int | None = Field(default=None, sa_type=BigInteger)
    retired_at: int | None = Field(default=None, sa_type=BigInteger)
    removed_at: int | None = Field(default=None, sa_type=BigInteger)

    def jwk(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.public_jwk)
        return loaded


# The Core table, for the conditional UPDATEs of the lifecycle.
SIGNING_KEYS = cast(Table, SigningKey.__table__)


async def new_key(
    alg: str, kek: KeyEncryptionKey, now: int, *, state: str, rsa_key_size: int = 2048
) -> SigningKey:
    """Generate a key (off the event loop: RSA generation takes a while) and seal it."""
    private_key = await anyio.to_thread.run_sync(generate_private_key, alg, rsa_key_size)
    jwk = public_jwk(private_key, alg)
    return SigningKey(
        kid=jwk["kid"],
        alg=alg,
        state=state,
        public_jwk=json.dumps(jwk, separators=(",", ":")),
        sealed_private=kek.seal(serialize_private_key(private_key), jwk["kid"]),
        created_at=now,
        published_at=now,
        activated_at=now if state == ACTIVE else None,
    )


async def published_keys(session: AsyncSession) -> list[SigningKey]:
    rows = await session.execute(
        select(SigningKey).where(col(SigningKey.state).in_(PUBLISHED_STATES))
    )
    return list(rows.scalars())


async def all_keys(session: AsyncSession) -> list[SigningKey]:
    rows = await session.execute(select(SigningKey).order_by(SigningKey.created_at))
    return list(rows.scalars())


async def active_key(session: AsyncSession) -> SigningKey | None:
    rows = await session.execute(select(SigningKey).where(SigningKey.state == ACTIVE))
    return rows.scalars().first()


async def ensure_active_key(
    sessions: async_sessionmaker[AsyncSession],
    kek: KeyEncryptionKey,
    alg: str,
    clock: Clock,
    *,
    rsa_key_size: int = 2048,
) -> str:
    """Return the kid of the active key, creating the first one if there is none.

    When several processes start at once on an empty database, each may generate a
    key, but the unique index lets exactly one insert win; the others read the winner.
    """
    async with sessions() as session:
        found = await active_key(session)
    if found is not None:
        return found.kid

    candidate = await new_key(alg, kek, int(clock()), state=ACTIVE, rsa_key_size=rsa_key_size)
    try:
        async with sessions() as session, session.begin():
            session.add(candidate)
    except IntegrityError:
        pass

    async with sessions() as session:
        winner = await active_key(session)
    if winner is None:  # only if another process revoked the winner in between
        raise NoActiveKey("no active key after creating one; start again")
    return winner.kid
