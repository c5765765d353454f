"""Rotation under load: strict verifiers check a stream of fresh tokens across rotations.

Each simulated verifier caches the JWK set for exactly the ``max-age`` the issuer sends,
revalidates with the ``ETag``, and never refetches on an unknown ``kid`` (like the
strictest clients). Their caches are out of phase, so at every second some verifier
holds a set fetched just before a change. Policy: C = 60, M = 10, T = 120, L = 10,
P = 600; the clock moves 3 s at a time and every step runs ``advance`` and a reload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import jwt
import pytest

from issuer.models import Client
from issuer.service import Issuer
from issuer.settings import Settings
from issuer.tokens import Grant
from issuer.web import create_app
from keys import KeyEncryptionKey, Policy, advance
from keys.lifecycle import ACTIVATE
from tests.conftest import START, FakeClock

pytestmark = pytest.mark.anyio

STEP = 3
VERIFIERS = 12
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
POLICY = {"signing_alg": "ES256", "jwks_max_age": 60, "key_propagation_margin": 10,
          "key_rotation_period": 600, "access_token_ttl": 120, "id_token_ttl": 120,
          "clock_leeway": 10, "key_auto_rotate": False, "key_reload_interval": 5}
GRANT = Grant(client=Client(client_id="svc", created_at=START, scopes=["api"]), scopes=("api",))


@dataclass
class Tally:
    tokens: int = 0
    verifications: int = 0
    rotations: int = 0
    failures: list[str] = field(default_factory=list)
    algorithms: set[str] = field(default_factory=set)


class StrictVerifier:
    """A resource server's key cache: exactly ``max-age``, ``ETag`` revalidation, and no
    refetch on an unknown ``kid``."""

    def __init__(self, http: httpx.AsyncClient, leeway: int, tally: Tally) -> None:
        self._http, self._leeway, self._tally = http, leeway, tally
        self._keys: dict[str, tuple[Any, str]] = {}
        self._etag: str | None = None
        self.expires = 0

    async def refresh(self, now: int) -> None:
        headers = {"If-None-Match": self._etag} if self._etag else {}
        response = await self._http.get("/.well-known/jwks.json", headers=headers)
        assert response.status_code in (200, 304), response.text
        if response.status_code == 200:
            jwks = response.json()["keys"]
            assert jwks, "the issuer served an empty key set"
            leaked = [PRIVATE_MEMBERS & set(jwk) for jwk in jwks if PRIVATE_MEMBERS & set(jwk)]
            assert not leaked, leaked
            self._keys = {jwk["kid"]: (jwt.PyJWK(jwk).key, jwk["alg"]) for jwk in jwks}
            self._etag = response.headers["etag"]
        self.expires = now + int(response.headers["cache-control"].split("max-age=")[1])

    async def check(self, token: str, now: int) -> None:
        """Verify ``token`` at ``now``; a failure is recorded with its reason."""
        if now >= self.expires:
            await self.refresh(now)
        self._tally.verifications += 1
        header = jwt.get_unverified_header(token)
        found = self._keys.get(header["kid"])
        if found is None:
            self._tally.failures.append(f"{now - START}: unknown kid {header['kid'][:8]}")
            return
        key, alg = found
        claims = jwt.decode(token, key, algorithms=[alg], audience="api",
                            issuer="https://issuer.test",
                            options={"verify_exp": False, "verify_iat": False})
        assert header["typ"] == "at+jwt" and now < claims["exp"] + self._leeway


@dataclass
class Rig:
    issuer: Issuer
    http: httpx.AsyncClient
    clock: FakeClock
    settings: Settings


@pytest.fixture
async def rig(make_settings: Callable[..., Settings], kek: KeyEncryptionKey,
              clock: FakeClock) -> AsyncIterator[Rig]:
    settings = make_settings(**POLICY)
    issuer = Issuer(settings, clock=clock, kek=kek)
    await issuer.start()
    transport = httpx.ASGITransport(app=create_app(issuer, manage_lifecycle=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://issuer.test") as http:
        yield Rig(issuer, http, clock, settings)
    await issuer.stop()


async def tick(rig: Rig, schedule: Policy, tally: Tally, at: int) -> None:
    """The clock moves to ``at``; due steps are applied and the key set is reloaded."""
    rig.clock.now = at
    outcome = await advance(rig.issuer.sessions, rig.issuer.kek, schedule, rig.clock)
    tally.rotations += sum(step.action == ACTIVATE for step in outcome.steps)
    ring = await rig.issuer.keys.reload()
    assert ring.require_signer().kid in ring.kids  # never a set without its signer


async def rotate_under_load(rig: Rig, schedule: Policy, *, seconds: int) -> Tally:
    """Mint a token every step and have every verifier check it when it is issued and at
    the last second it is acceptable (``exp + L - 1``); switch to RS256 half-way."""
    tally = Tally()
    leeway = rig.settings.clock_leeway
    verifiers = [StrictVerifier(rig.http, leeway, tally) for _ in range(VERIFIERS)]
    for phase, verifier in enumerate(verifiers):
        await verifier.refresh(START)
        verifier.expires -= phase * 5  # caches fetched at different moments
    pending: list[tuple[int, str]] = []
    while rig.clock.now < START + seconds:
        if rig.clock.now >= START + 1300:
            schedule = replace(schedule, signing_alg="RS256")
        now = int(rig.clock.now) + STEP
        await tick(rig, schedule, tally, now)
        token = rig.issuer.minter.issue(GRANT).access_token
        tally.tokens += 1
        tally.algorithms.add(jwt.get_unverified_header(token)["alg"])
        pending.append((now + rig.settings.access_token_ttl + leeway - 1, token))
        for verifier in verifiers:
            await verifier.check(token, now)
        for _last, old in [item for item in pending if item[0] < now + STEP]:
            for verifier in verifiers:
                await verifier.check(old, now)
        pending = [item for item in pending if item[0] >= now + STEP]
    return tally


async def test_rotation_under_load_never_fails_a_strict_verifier(rig: Rig) -> None:
    tally = await rotate_under_load(rig, rig.issuer.key_policy, seconds=2150)

    print(f"\nrotation under load: {tally.tokens} tokens, {tally.verifications} verifications "
          f"by {VERIFIERS} strict verifiers, {tally.rotations} rotations "
          f"({'/'.join(sorted(tally.algorithms))}), {len(tally.failures)} failures")
    assert tally.rotations >= 4  # three on schedule and one algorithm change
    assert tally.algorithms == {"ES256", "RS256"}
    assert tally.tokens > 700 and tally.verifications > 2 * VERIFIERS * 650
    assert tally.failures == []


async def test_control_without_the_propagation_rule_fails(rig: Rig) -> None:
    """The same run with C + M ignored by the schedule: the test above can fail."""
    careless = replace(rig.issuer.key_policy, jwks_max_age=0, propagation_margin=0)

    tally = await rotate_under_load(rig, careless, seconds=2150)

    print(f"\ncontrol run (C + M ignored): {tally.tokens} tokens, {tally.verifications} "
          f"verifications, {tally.rotations} rotations, {len(tally.failures)} failures")
    assert tally.rotations >= 4
    assert len(tally.failures) > 0


async def test_a_token_signed_just_before_retirement_verifies_until_it_expires(
    rig: Rig,
) -> None:
    tally, schedule = Tally(), rig.issuer.key_policy
    first = rig.issuer.keys.ring.require_signer().kid
    await tick(rig, schedule, tally, START + 530)  # the next key is published
    await tick(rig, schedule, tally, START + 599)  # one second before it signs
    token = rig.issuer.minter.issue(GRANT).access_token
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    leeway = rig.settings.clock_leeway

    for now in range(START + 600, exp + leeway):  # every second the token is acceptable
        await tick(rig, schedule, tally, now)
        await StrictVerifier(rig.http, leeway, tally).check(token, now)  # a fresh fetch
    kids_at = {}
    for now in (exp + leeway, exp + leeway + 1):
        await tick(rig, schedule, tally, now)
        kids_at[now - exp - leeway] = rig.issuer.keys.ring.kids

    assert exp + leeway == START + 600 + 130 - 1  # retired at S + 600, T + L = 130
    assert tally.rotations == 1 and tally.failures == []
    assert rig.issuer.keys.ring.require_signer().kid != first
    assert first in kids_at[0]  # one second before retired_at + T + L: still published
    assert first not in kids_at[1]  # at retired_at + T + L: gone
