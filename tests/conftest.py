"""Shared fixtures: a fake clock, settings on a temporary SQLite file, a running issuer."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from issuer.service import Issuer
from issuer.settings import Settings, load_settings
from issuer.web import create_app
from keys import KeyEncryptionKey

START = 1_800_000_000
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


class FakeClock:
    """A clock that moves only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


POSTGRES_ADMIN_URL = os.environ.get(
    "ISSUER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def test_databases() -> list[str]:
    """The databases every database test runs on: ``ISSUER_TEST_DATABASES``, comma-separated.

    ``scripts/test`` sets it to ``sqlite,postgresql`` when PostgreSQL answers.
    """
    names = [name.strip() for name in os.environ.get("ISSUER_TEST_DATABASES", "sqlite").split(",")]
    unknown = set(names) - {"sqlite", "postgresql"}
    if unknown or not names:
        raise ValueError(f"ISSUER_TEST_DATABASES: unknown database {sorted(unknown)}")
    return names


test_databases.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture(params=test_databases())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for one test: a SQLite file, or a PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'issuer.db'}"
        return
    import psycopg

    name = f"issuer_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.generate()


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "url": "https://issuer.test",
            "database_url": database_url,
            "key_reload_interval": 60,
            "client_cache_seconds": 0,  # tests change clients and expect it at once
            **CHEAP_ARGON2,
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@dataclass
class Running:
    issuer: Issuer
    http: httpx.AsyncClient
    clock: FakeClock


@pytest.fixture
async def running(
    settings: Settings, clock: FakeClock, kek: KeyEncryptionKey
) -> AsyncIterator[Running]:
    """An issuer started on an empty database, reached in-process over ASGI."""
    issuer = Issuer(settings, clock=clock, kek=kek)
    await issuer.start()
    app = create_app(issuer, manage_lifecycle=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://issuer.test") as http:
        yield Running(issuer, http, clock)
    await issuer.stop()


def basic(client_id: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def segments(jwt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWT, decoded without any check."""
    header, payload, _ = jwt.split(".")
    return _b64json(header), _b64json(payload)


def _b64json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


@dataclass
class Accounts:
    user_id: str
    email: str
    password: str
    secret: str  # of "web": password + client_credentials, scopes openid profile email roles api
    service_secret: str  # of "service": client_credentials only, audience "billing"
    mobile_secret: str  # of "mobile": password + refresh_token, scopes openid profile api


@pytest.fixture
async def accounts(running: Running) -> Accounts:
    return await create_accounts(running)


async def create_accounts(running: Running) -> Accounts:
    """A user (Alice) and the clients web, service, spa (public) and mobile."""
    from issuer.clients import create_client
    from issuer.users import create_user

    issuer = running.issuer
    now = int(running.clock())
    async with issuer.sessions() as session, session.begin():
        user = await create_user(
            session, issuer.passwords, "Alice@Example.com", "correct horse", now=now,
            roles=["admin", "staff"], given_name="Alice", family_name="Liddell",
        )
        _, secret = await create_client(
            session, "web", now=now, grants=["password", "client_credentials"],
            scopes=["openid", "profile", "email", "roles", "api"],
        )
        _, service_secret = await create_client(
            session, "service", now=now, grants=["client_credentials"],
            scopes=["reports", "api"], audience="billing",
        )
        await create_client(session, "spa", now=now, grants=["password"], scopes=["api"],
                            public=True)
        _, mobile_secret = await create_client(
            session, "mobile", now=now, grants=["password", "refresh_token"],
            scopes=["openid", "profile", "api"],
        )
    return Accounts(user.id, "Alice@Example.com", "correct horse", secret or "",
                    service_secret or "", mobile_secret or "")
