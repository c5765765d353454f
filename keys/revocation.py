"""Emergency revocation of a compromised signing key.

Revoking takes a key out of the published set at once and destroys its private part,
skipping the waits of the schedule in :mod:`keys.lifecycle`: that is the point, and it
has a price that :func:`revocation_breaks` states before anything is done.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .errors import RotationConflict, RotationRefused, UnknownKey
from .lifecycle import Clock, Policy, check_kek, published_at, update_if_state, utc
from .sealing import KeyEncryptionKey
from .store import ACTIVE, NEXT, REMOVED, RETIRED, SigningKey, all_keys, new_key


@dataclass(frozen=True)
class Revocation:
    """What :func:`revoke` did: the key, its state before, the key that signs now."""

    kid: str
    previous_state: str
    replacement: str | None = None
    breaks: tuple[str, ...] = ()


def revocation_breaks(
    target: SigningKey, rows: list[SigningKey], policy: Policy, now: int
) -> list[str]:
    """In plain words, each rule of the schedule that revoking ``target`` now breaks."""
    if target.state == ACTIVE:
        broken = [f"tokens signed by {target.kid} fail verification from now on "
                  f"(the last of them would have verified until {utc(now + policy.retention)})"]
        return broken + _replacement_breaks(_next_key(rows), policy, now)
    if target.state == RETIRED and target.retired_at is not None:
        live_until = target.retired_at + policy.retention
        if now < live_until:
            return [f"tokens signed by {target.kid} before it retired fail verification "
                    f"from now on (they would have verified until {utc(live_until)})"]
    return []  # a next key never signed; a retired key past T + L has no live token


async def revoke(
    sessions: async_sessionmaker[AsyncSession],
    kek: KeyEncryptionKey,
    policy: Policy,
    kid: str,
    clock: Clock,
    *,
    force: bool = False,
) -> Revocation:
    """Remove ``kid`` from the published set now and destroy its private part.

    When ``kid`` is the active key, the ``next`` key (or a fresh one) is activated in the
    same transaction, so exactly one key signs throughout. A revocation that breaks live
    tokens is refused with :class:`RotationRefused` unless ``force``.
    """
    now = int(clock())
    async with sessions() as session:
        rows = await all_keys(session)
    check_kek(rows, kek)
    target = next((row for row in rows if row.kid == kid), None)
    if target is None:
        raise UnknownKey(f"no signing key has kid {kid}", kid=kid)
    if target.state == REMOVED:
        return Revocation(kid, REMOVED)
    breaks = revocation_breaks(target, rows, policy, now)
    if breaks and not force:
        raise RotationRefused(f"revoking {kid} breaks: {'; '.join(breaks)}", kid=kid,
                              breaks="; ".join(breaks))

    fresh = None
    if target.state == ACTIVE and _next_key(rows) is None:
        fresh = await new_key(policy.signing_alg, kek, now, state=ACTIVE,
                              rsa_key_size=policy.rsa_key_size)
    async with sessions() as session, session.begin():
        replacement = await _replace(session, target, fresh, now)
    return Revocation(kid, target.state, replacement, tuple(breaks))


async def _replace(
    session: AsyncSession, target: SigningKey, fresh: SigningKey | None, now: int
) -> str | None:
    """Remove ``target``; when it was active, activate the next key or ``fresh``."""
    current = await all_keys(session)
    upcoming = _next_key(current) if target.state == ACTIVE else None
    if target.state == ACTIVE and (upcoming is None) != (fresh is not None):
        raise RotationConflict("the keys changed during the revocation; run it again")
    await update_if_state(session, target.kid, target.state, state=REMOVED, removed_at=now,
                       sealed_private=None)
    if target.state != ACTIVE:
        return None
    if upcoming is not None:
        await update_if_state(session, upcoming.kid, NEXT, state=ACTIVE, activated_at=now)
        return upcoming.kid
    if fresh is None:  # the check above rules it out; say so rather than add None
        raise RotationConflict("no replacement key")
    session.add(fresh)
    await session.flush()
    return fresh.kid


def _replacement_breaks(upcoming: SigningKey | None, policy: Policy, now: int) -> list[str]:
    if upcoming is None:
        return ["a fresh key signs at once: verifiers that cached the key set reject its "
                f"tokens until they refetch (up to C = {policy.jwks_max_age} s)"]
    age = now - published_at(upcoming)
    if age >= policy.propagation:
        return []
    return [f"the next key {upcoming.kid} signs at once, published only {age} s ago "
            f"(C + M = {policy.propagation} s): caches may not have it yet"]


def _next_key(rows: list[SigningKey]) -> SigningKey | None:
    return next((row for row in rows if row.state == NEXT), None)
