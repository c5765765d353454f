from __future__ import annotations

import pytest
from verifier_testkit import AUDIENCE, ISSUER, JWKS_URL, Clock, FakeIssuer, Keys

from issuer.verifier import RemoteKeySet, TokenVerifier


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake_issuer(keys: Keys) -> FakeIssuer:
    return FakeIssuer(keys.jwks())


@pytest.fixture
def key_set(fake_issuer: FakeIssuer, clock: Clock) -> RemoteKeySet:
    return RemoteKeySet(JWKS_URL, transport=fake_issuer.transport, clock=clock)


@pytest.fixture
def verifier(key_set: RemoteKeySet, clock: Clock) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, key_set=key_set, clock=clock)
