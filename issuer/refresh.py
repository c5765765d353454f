"""Refresh tokens: families, rotation, the grace window and reuse detection.

A login starts a *family*. Every use of a refresh token marks it used and issues a
successor; the idle lifetime slides with each rotation but never past the family's
absolute expiry. Only SHA-256 hashes of tokens are stored.

Grace window: the successor is not random but derived from the parent with a server
secret (HMAC-SHA256), so when the same parent comes back within the window (a retried
request, a second tab) the server can hand out the very same successor again without
having stored it. Past the window, a used token coming back means two parties hold the
family: the whole family is revoked and a security event is recorded.

Each rotation is one transaction that locks the token's row (``SELECT ... FOR UPDATE``
on PostgreSQL; SQLite transactions here start with ``BEGIN IMMEDIATE``), so concurrent
uses of one token, from one process or many, are decided by the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from .errors import InvalidGrant, InvalidScope
from .models import Client, RefreshFamily, RefreshToken, SecurityEvent, User
from .settings import Settings

security_log = logging.getLogger("issuer.security")

SUCCESSOR_PURPOSE = b"issuer refresh-token successor v1"
MAX_TOKEN_CHARS = 512
_REFUSED = "the refresh token is invalid, expired or revoked"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Rotation:
    """The outcome of a refresh: the family's user and scope, and the successor token."""

    user: User
    scopes: tuple[str, ...]
    auth_time: int
    refresh_token: str
    reused_successor: bool
    family_id: str


class RefreshTokens:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], float],
        successor_secret: bytes,
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._reads = reads or sessions
        self._clock = clock
        self._secret = successor_secret

    async def start_family(
        self, user: User, client: Client, scopes: tuple[str, ...], auth_time: int, ip: str | None
    ) -> tuple[str, str]:
        """Open a family at login; returns its first refresh token and the family id."""
        now = int(self._clock())
        family = RefreshFamily(
            id=str(uuid.uuid4()), user_id=user.id, client_id=client.client_id,
            scope=" ".join(scopes), auth_time=auth_time, created_at=now,
            expires_at=now + self._settings.refresh_absolute_ttl,
        )
        token = secrets.token_urlsafe(32)
        async with self._sessions() as session, session.begin():
            session.add(family)
            await session.flush()
            session.add(self._row(token, family, None, now, ip))
        return token, family.id

    async def rotate(
        self, token: str, client: Client, requested: tuple[str, ...] | None, ip: str | None
    ) -> Rotation:
        """Use ``token`` once: return its successor, or refuse with ``invalid_grant``."""
        if len(token) > MAX_TOKEN_CHARS or not await self._exists(token):
            raise InvalidGrant(_REFUSED, field="refresh_token")
        now = int(self._clock())
        async with self._sessions() as session:
            async with session.begin():
                outcome = await self._rotate_locked(session, token, client, requested, ip, now)
            if isinstance(outcome, InvalidGrant):
                raise outcome
        return outcome

    async def _rotate_locked(
        self, session: AsyncSession, token: str, client: Client,
        requested: tuple[str, ...] | None, ip: str | None, now: int,
    ) -> Rotation | InvalidGrant:
        row = await _locked(session, RefreshToken, token_hash(token))
        if row is None or row.client_id != client.client_id:
            return InvalidGrant(_REFUSED, field="refresh_token")
        family = await _locked(session, RefreshFamily, row.family_id)
        if family is None or family.revoked_at is not None or row.revoked_at is not None:
            return InvalidGrant(_REFUSED, field="refresh_token")
        if now >= row.expires_at or now >= family.expires_at:
            return InvalidGrant(_REFUSED, field="refresh_token")
        # Reuse is judged before anything else about the request, so that no parameter
        # (a wider scope, say) lets a thief probe a stolen token without tripping it.
        retry = row.used_at is not None
        if retry and not await self._within_grace(session, row, now):
            await self._revoke_for_reuse(session, family, row, ip, now)
            return InvalidGrant(_REFUSED, field="refresh_token")

        scopes = _narrowed(family, client, requested)
        user = await session.get(User, family.user_id)
        if user is None or user.disabled:
            # The same answer as any refused token: whether the account is disabled is not
            # the caller's business (logins hide it too).
            return InvalidGrant(_REFUSED, field="refresh_token")

        successor = self._successor(token)
        if not retry:
            await session.execute(
                update(RefreshToken)
                .where(col(RefreshToken.token_hash) == row.token_hash)
                .values(used_at=now, successor_hash=token_hash(successor))
            )
            session.add(self._row(successor, family, row.token_hash, now, ip))
        return Rotation(user, scopes, family.auth_time, successor, retry, family.id)

    async def revoke(self, token: str, client: Client, ip: str | None) -> bool:
        """RFC 7009 for a refresh token: revoke its family when it belongs to ``client``.

        Returns whether ``token`` is a refresh token at all; another client's token is
        left untouched and reported as found, so the caller answers 200 either way.
        """
        if len(token) > MAX_TOKEN_CHARS or not await self._exists(token):
            return False
        now = int(self._clock())
        async with self._sessions() as session, session.begin():
            row = await session.get(RefreshToken, token_hash(token))
            if row is None:
                return False
            if row.client_id == client.client_id:
                await revoke_family(session, row.family_id, now, reason="revoked_by_client", ip=ip)
        return True

    async def revoke_for_user(self, token: str, user_id: str, ip: str | None) -> bool:
        """Revoke the family of ``token`` when it is ``user_id``'s, whatever its client."""
        if len(token) > MAX_TOKEN_CHARS or not await self._exists(token):
            return False
        now = int(self._clock())
        async with self._sessions() as session, session.begin():
            row = await session.get(RefreshToken, token_hash(token))
            if row is None or row.user_id != user_id:
                return False
            await revoke_family(session, row.family_id, now, reason="revoked_by_user", ip=ip)
        return True

    async def introspect(self, token: str, client: Client) -> dict[str, object] | None:
        """RFC 7662 fields of a refresh token of ``client``; None when not a refresh token."""
        if len(token) > MAX_TOKEN_CHARS:
            return None
        now = int(self._clock())
        async with self._sessions() as session:
            row = await session.get(RefreshToken, token_hash(token))
            if row is None:
                return None
            family = await session.get(RefreshFamily, row.family_id)
            user = await session.get(User, row.user_id)
        if family is None or not _live(row, family, now) or row.client_id != client.client_id:
            return {"active": False}
        if user is None or user.disabled:
            return {"active": False}
        return {
            "active": True, "token_type": "refresh_token", "scope": row.scope,
            "client_id": row.client_id, "sub": row.user_id,
            "exp": min(row.expires_at, family.expires_at), "iat": row.created_at,
        }

    async def _exists(self, token: str) -> bool:
        """A read-only look first: unknown tokens (guesses, garbage) never take the write
        lock that every real rotation needs."""
        async with self._reads() as session:
            return await session.get(RefreshToken, token_hash(token)) is not None

    async def _within_grace(self, session: AsyncSession, row: RefreshToken, now: int) -> bool:
        """Inside the window (its last second included) and the successor still unused."""
        grace = self._settings.refresh_grace_seconds
        if grace == 0 or row.used_at is None or now - row.used_at > grace:
            return False
        if row.successor_hash is None:
            return False
        successor = await session.get(RefreshToken, row.successor_hash)
        return successor is not None and successor.used_at is None and successor.revoked_at is None

    async def _revoke_for_reuse(
        self, session: AsyncSession, family: RefreshFamily, row: RefreshToken,
        ip: str | None, now: int,
    ) -> None:
        await revoke_family(session, family.id, now, reason="reuse_detected", ip=ip)
        session.add(SecurityEvent(
            at=now, kind="refresh_token_reuse", family_id=family.id, client_id=row.client_id,
            user_id=family.user_id, ip=ip, detail="a used refresh token was presented again",
        ))
        security_log.warning(
            "refresh token reuse: family revoked family_id=%s client_id=%s user_id=%s ip=%s",
            family.id, row.client_id, family.user_id, ip,
        )

    def _successor(self, parent: str) -> str:
        digest = hmac.new(self._secret, parent.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _row(
        self, token: str, family: RefreshFamily, parent: str | None, now: int, ip: str | None
    ) -> RefreshToken:
        return RefreshToken(
            token_hash=token_hash(token), family_id=family.id, parent_hash=parent,
            user_id=family.user_id, client_id=family.client_id, scope=family.scope,
            created_at=now, created_by_ip=ip,
            expires_at=min(now + self._settings.refresh_idle_ttl, family.expires_at),
        )


async def revoke_family(
    session: AsyncSession, family_id: str, now: int, *, reason: str, ip: str | None = None
) -> None:
    """Revoke a family and every token in it, whatever branch, in the caller's transaction."""
    await session.execute(
        update(RefreshFamily)
        .where(col(RefreshFamily.id) == family_id, col(RefreshFamily.revoked_at).is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now, revoked_by_ip=ip, revoked_reason=reason)
    )


async def revoke_user_families(session: AsyncSession, user_id: str, now: int) -> int:
    """Revoke every live family of a user; returns how many were revoked."""
    rows = await session.execute(
        select(RefreshFamily.id).where(
            col(RefreshFamily.user_id) == user_id, col(RefreshFamily.revoked_at).is_(None)
        )
    )
    family_ids = list(rows.scalars())
    for family_id in family_ids:
        await revoke_family(session, family_id, now, reason="sessions_revoked")
    return len(family_ids)


def _live(row: RefreshToken, family: RefreshFamily, now: int) -> bool:
    return (
        row.used_at is None and row.revoked_at is None and family.revoked_at is None
        and now < row.expires_at and now < family.expires_at
    )


def _narrowed(
    family: RefreshFamily, client: Client, requested: tuple[str, ...] | None
) -> tuple[str, ...]:
    """RFC 6749 §6: a refresh may ask for less than the family's scope, never more.

    A scope since withdrawn from the client is refused too, rather than silently kept.
    """
    granted = tuple(family.scope.split())
    wanted = granted if requested is None else requested
    wider = [scope for scope in wanted if scope not in granted or scope not in client.scopes]
    if wider:
        named = f"scope {wider[0]!r}" if len(wider[0]) <= 40 else "a requested scope"
        raise InvalidScope(f"{named} exceeds the refresh token's scope", field="scope")
    return wanted


Row = TypeVar("Row", RefreshToken, RefreshFamily)


async def _locked(session: AsyncSession, model: type[Row], key: str) -> Row | None:
    """The row with primary key ``key``, locked until the transaction ends (``FOR UPDATE``
    on PostgreSQL; SQLite has no row locks, and its ``BEGIN IMMEDIATE`` locks it all)."""
    return await session.get(model, key, with_for_update=True)
