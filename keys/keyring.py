"""The in-memory view of the key set that a running issuer serves and signs with.

A :class:`KeyRing` is immutable: a reload builds a new one and swaps it in with one
assignment, so a request never sees half of an old set and half of a new one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .errors import NoActiveKey
from .jwk import load_private_key
from .sealing import KeyEncryptionKey
from .signer import Signer
from .store import ACTIVE, SigningKey, published_keys

logger = logging.getLogger("keys")


@dataclass(frozen=True)
class KeyRing:
    """The published JWK set (rendered once, with its ETag) and the active signer."""

    jwks: bytes
    etag: str
    kids: tuple[str, ...]
    algorithms: tuple[str, ...]
    signer: Signer | None = field(default=None, repr=False)

    def require_signer(self) -> Signer:
        if self.signer is None:
            raise NoActiveKey("no signing key is active")
        return self.signer


def render_key_set(rows: Iterable[SigningKey]) -> bytes:
    """RFC 7517 §5 JWK set of the published keys: the active key first, then by age."""
    ordered = sorted(rows, key=lambda row: (row.state != ACTIVE, -row.created_at, row.kid))
    document = {"keys": [row.jwk() for row in ordered]}
    return json.dumps(document, separators=(",", ":")).encode()


class KeyManager:
    """Loads the key set from the database and keeps the current :class:`KeyRing`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], kek: KeyEncryptionKey) -> None:
        self._sessions = sessions
        self._kek = kek
        self._signers: dict[str, Signer] = {}
        self.ring = KeyRing(jwks=b'{"keys":[]}', etag='"empty"', kids=(), algorithms=())

    async def reload(self) -> KeyRing:
        async with self._sessions() as session:
            rows = await published_keys(session)
        ring = self._build(rows)
        if ring.etag != self.ring.etag:
            logger.info("key set loaded: kids=%s", ",".join(ring.kids))
        self.ring = ring
        return ring

    def _build(self, rows: list[SigningKey]) -> KeyRing:
        body = render_key_set(rows)
        active = next((row for row in rows if row.state == ACTIVE), None)
        return KeyRing(
            jwks=body,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            kids=tuple(row.kid for row in rows),
            algorithms=tuple(sorted({row.alg for row in rows})),
            signer=self._signer_for(active) if active is not None else None,
        )

    def _signer_for(self, row: SigningKey) -> Signer:
        signer = self._signers.get(row.kid)
        if signer is None:
            if row.sealed_private is None:
                raise NoActiveKey(f"active key {row.kid} has no private part", kid=row.kid)
            der = self._kek.open(row.sealed_private, row.kid)
            signer = Signer(row.kid, row.alg, load_private_key(der))
            self._signers = {row.kid: signer}
        return signer
