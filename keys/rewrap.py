"""Re-encryption of every stored private key under a new key-encryption key (KEK).

All or nothing: every sealed key is opened under the current KEK before a single row is
written, and the writes share one transaction. A key already sealed under the new KEK
(a second run after a partial switch-over) is checked and left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .errors import KeyEncryptionKeyError
from .lifecycle import update_if_state
from .sealing import KeyEncryptionKey, sealed_kek_id
from .store import SIGNING_KEYS, SigningKey, all_keys


@dataclass(frozen=True)
class Rewrapped:
    """Which keys were resealed, which already were, and the KEK ids before and after."""

    resealed: tuple[str, ...]
    unchanged: tuple[str, ...]
    old_kek_ids: tuple[str, ...]
    new_kek_id: str


async def rewrap(
    sessions: async_sessionmaker[AsyncSession], kek: KeyEncryptionKey,
    new_kek: KeyEncryptionKey,
) -> Rewrapped:
    """Seal every stored private key under ``new_kek`` in one transaction.

    Raises :class:`KeyEncryptionKeyError` (and changes nothing) when a key does not open
    under ``kek``, or when ``new_kek`` is ``kek``.
    """
    if new_kek.kek_id == kek.kek_id:
        raise KeyEncryptionKeyError("the new key-encryption key is the current one")
    async with sessions() as session, session.begin():
        rows = [row for row in await all_keys(session) if row.sealed_private is not None]
        resealed = {row.kid: _reseal(row, kek, new_kek) for row in rows}
        for row in rows:
            if resealed[row.kid] is not None:
                # Conditional on the old blob: a concurrent change rolls everything back.
                unchanged = SIGNING_KEYS.c.sealed_private == row.sealed_private
                await update_if_state(session, row.kid, row.state, unchanged,
                                      sealed_private=resealed[row.kid])
    return Rewrapped(
        resealed=tuple(kid for kid, sealed in resealed.items() if sealed is not None),
        unchanged=tuple(kid for kid, sealed in resealed.items() if sealed is None),
        old_kek_ids=tuple(sorted({sealed_kek_id(row.sealed_private or "") for row in rows
                                  if resealed[row.kid] is not None})),
        new_kek_id=new_kek.kek_id,
    )


def _reseal(row: SigningKey, kek: KeyEncryptionKey, new_kek: KeyEncryptionKey) -> str | None:
    """The row's private key sealed under ``new_kek``, or None if it already is."""
    sealed = row.sealed_private or ""
    if sealed_kek_id(sealed) == new_kek.kek_id:
        new_kek.open(sealed, row.kid)  # proves it, rather than trusting the id
        return None
    return new_kek.seal(kek.open(sealed, row.kid), row.kid)
