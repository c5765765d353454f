"""Pruning rows that can no longer matter, in bounded batches.

A family is deleted, with all its tokens, only once its absolute expiry has passed:
until then its used and revoked tokens are what reuse detection looks for. Revoked
access-token ids go once the token would have expired anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from .models import RefreshFamily, RefreshToken, RevokedAccessToken


@dataclass
class Pruned:
    families: int = 0
    refresh_tokens: int = 0
    revoked_access_tokens: int = 0


async def prune(
    sessions: async_sessionmaker[AsyncSession], now: int, *, batch_size: int = 1000
) -> Pruned:
    pruned = Pruned()
    while True:
        async with sessions() as session, session.begin():
            ids = list((await session.execute(
                select(RefreshFamily.id).where(RefreshFamily.expires_at <= now).limit(batch_size)
            )).scalars())
            if not ids:
                break
            tokens = await session.execute(
                delete(RefreshToken).where(col(RefreshToken.family_id).in_(ids))
            )
            await session.execute(delete(RefreshFamily).where(col(RefreshFamily.id).in_(ids)))
        pruned.families += len(ids)
        pruned.refresh_tokens += tokens.rowcount or 0
    while True:
        async with sessions() as session, session.begin():
            jtis = list((await session.execute(
                select(RevokedAccessToken.jti).where(RevokedAccessToken.expires_at <= now)
                .limit(batch_size)
            )).scalars())
            if not jtis:
                break
            await session.execute(
                delete(RevokedAccessToken).where(col(RevokedAccessToken.jti).in_(jtis))
            )
        pruned.revoked_access_tokens += len(jtis)
    return pruned
