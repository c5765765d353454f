"""OAuth clients: registration, secrets and authentication (RFC 6749 §2.3).

A confidential client's secret is 256 random bits, shown once at registration. Because
it is random and long, a single SHA-256 is enough to store it (unlike a password, it
cannot be guessed from a dictionary), and checking it stays cheap on the token path.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from .errors import AlreadyExists, InvalidInput
from .models import Client
from .scopes import SCOPE_TOKEN

GRANT_TYPES = ("password", "client_credentials", "refresh_token")
PUBLIC_CLIENT_GRANTS = ("password", "refresh_token")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_MAX_CACHED_CLIENTS = 10_000
_MAX_SCOPE_CHARS = 100


def hash_secret(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(client: Client, secret: str) -> bool:
    if client.secret_hash is None:
        return False
    return hmac.compare_digest(client.secret_hash, hash_secret(secret))


def check_scope_token(scope: str) -> str:
    if len(scope) > _MAX_SCOPE_CHARS or not SCOPE_TOKEN.fullmatch(scope):
        raise InvalidInput(f"scope {scope!r} is not a valid scope token", field="scope")
    return scope


async def create_client(
    session: AsyncSession,
    client_id: str,
    *,
    now: int,
    grants: Sequence[str],
    scopes: Sequence[str] = (),
    audience: str | None = None,
    public: bool = False,
) -> tuple[Client, str | None]:
    """Register a client; returns it with its secret (None for a public client)."""
    _check_registration(client_id, grants, public)
    for scope in scopes:
        check_scope_token(scope)
    secret = None if public else secrets.token_urlsafe(32)
    client = Client(
        client_id=client_id,
        secret_hash=None if secret is None else hash_secret(secret),
        public=public,
        grants=sorted(set(grants)),
        scopes=sorted(set(scopes)),
        audience=audience or None,
        created_at=now,
    )
    session.add(client)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise AlreadyExists(f"client {client_id} exists", field="client_id") from None
    return client, secret


async def get_client(session: AsyncSession, client_id: str) -> Client | None:
    return await session.get(Client, client_id)


class ClientDirectory:
    """Clients as the token path sees them, each kept for ``ttl`` seconds.

    Reading the client row costs more than signing an ES256 token, and every token,
    revocation and introspection request needs it. A change made elsewhere (the CLI,
    another replica) is seen within ``ttl`` seconds; 0 turns the cache off.
    """

    def __init__(
        self, reads: async_sessionmaker[AsyncSession], ttl: float, clock: Callable[[], float]
    ) -> None:
        self._reads = reads
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, Client]] = {}

    async def get(self, client_id: str) -> Client | None:
        now = self._clock()
        entry = self._entries.get(client_id)
        if entry is not None and now < entry[0]:
            return entry[1]
        async with self._reads() as session:
            client = await get_client(session, client_id)
        if client is not None and self._ttl > 0:
            if len(self._entries) >= _MAX_CACHED_CLIENTS:
                self._entries.clear()
            self._entries[client_id] = (now + self._ttl, client)
        return client

    def forget(self) -> None:
        self._entries.clear()


async def list_clients(session: AsyncSession) -> list[Client]:
    rows = await session.execute(select(Client).order_by(Client.client_id))
    return list(rows.scalars())


def _check_registration(client_id: str, grants: Sequence[str], public: bool) -> None:
    if not _CLIENT_ID.fullmatch(client_id):
        raise InvalidInput(
            "client id must be 1-200 characters of letters, digits and . _ ~ -",
            field="client_id",
        )
    if not grants:
        raise InvalidInput("a client needs at least one grant", field="grant")
    unknown = sorted(set(grants) - set(GRANT_TYPES))
    if unknown:
        raise InvalidInput(f"unknown grant {unknown[0]!r}", field="grant")
    if public and set(grants) - set(PUBLIC_CLIENT_GRANTS):
        raise InvalidInput(
            "a public client may use only the password and refresh_token grants",
            field="grant",
        )
