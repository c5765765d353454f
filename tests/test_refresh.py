"""Refresh tokens: rotation, expiry boundaries, the grace window, reuse detection."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from issuer.models import Client, RefreshFamily, RefreshToken, SecurityEvent, User
from issuer.settings import Settings
from keys import KeyEncryptionKey
from tests.conftest import (
    START,
    Accounts,
    FakeClock,
    Running,
    basic,
    create_accounts,
    segments,
)

pytestmark = pytest.mark.anyio

REFUSED = {"error": "invalid_grant",
           "error_description": "the refresh token is invalid, expired or revoked"}


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(refresh_idle_ttl=100, refresh_absolute_ttl=250, refresh_grace_seconds=5)


async def login(running: Running, accounts: Accounts, scope: str = "openid api") -> dict:
    response = await running.http.post(
        "/token",
        data={"grant_type": "password", "username": accounts.email,
              "password": accounts.password, "scope": scope},
        headers=basic("mobile", accounts.mobile_secret),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def refresh(
    running: Running, accounts: Accounts, token: str, **extra: str
) -> httpx.Response:
    return await running.http.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": token, **extra},
        headers=basic("mobile", accounts.mobile_secret),
    )


async def rows(running: Running) -> list[RefreshToken]:
    async with running.issuer.sessions() as session:
        result = await session.execute(select(RefreshToken).order_by(RefreshToken.created_at))
        return list(result.scalars())


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def test_login_issues_a_refresh_token_stored_only_as_a_hash(
    running: Running, accounts: Accounts
) -> None:
    body = await login(running, accounts)

    token = body["refresh_token"]
    assert len(token) == 43  # 256 bits, base64url
    [row] = await rows(running)
    assert row.token_hash == sha256(token)
    assert token not in repr(row.model_dump())
    assert (row.user_id, row.client_id, row.scope) == (accounts.user_id, "mobile", "openid api")
    assert (row.created_at, row.expires_at, row.created_by_ip) == (START, START + 100, "127.0.0.1")


async def test_clients_without_the_refresh_grant_get_no_refresh_token(
    running: Running, accounts: Accounts
) -> None:
    response = await running.http.post(
        "/token",
        data={"grant_type": "password", "username": accounts.email,
              "password": accounts.password},
        headers=basic("web", accounts.secret),
    )
    assert "refresh_token" not in response.json()


async def test_rotation_returns_a_successor_and_uses_the_parent(
    running: Running, accounts: Accounts
) -> None:
    first = (await login(running, accounts))["refresh_token"]
    running.clock.advance(30)

    response = await refresh(running, accounts, first)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    second = body["refresh_token"]
    assert second != first and len(second) == 43
    assert body["scope"] == "openid api" and "id_token" in body
    _, claims = segments(body["access_token"])
    assert (claims["sub"], claims["iat"], claims["auth_time"]) == (accounts.user_id, START + 30,
                                                                   START)
    parent, child = await rows(running)
    assert (parent.used_at, parent.successor_hash) == (START + 30, sha256(second))
    assert (child.parent_hash, child.family_id) == (parent.token_hash, parent.family_id)
    assert child.expires_at == START + 130


@pytest.mark.parametrize(("wait", "status"), [(99, 200), (100, 400), (101, 400)])
async def test_idle_expiry_boundary(
    running: Running, accounts: Accounts, wait: int, status: int
) -> None:
    token = (await login(running, accounts))["refresh_token"]
    running.clock.advance(wait)

    response = await refresh(running, accounts, token)

    assert response.status_code == status
    if status == 400:
        assert response.json() == REFUSED


async def test_absolute_expiry_caps_the_family(running: Running, accounts: Accounts) -> None:
    token = (await login(running, accounts))["refresh_token"]
    for _ in range(2):  # at +90 and +180; the idle expiry slides, capped at +250
        running.clock.advance(90)
        token = (await refresh(running, accounts, token)).json()["refresh_token"]
    assert [row.expires_at for row in await rows(running)] == [
        START + 100, START + 190, START + 250,
    ]

    running.clock.now = START + 249
    last_second = await refresh(running, accounts, token)
    assert last_second.status_code == 200
    assert (await rows(running))[-1].expires_at == START + 250  # never extended

    running.clock.now = START + 250
    past = await refresh(running, accounts, last_second.json()["refresh_token"])
    assert (past.status_code, past.json()) == (400, REFUSED)


@pytest.mark.parametrize(("retry_after", "same"), [(0, True), (5, True), (6, False)])
async def test_grace_window_returns_the_same_successor(
    running: Running, accounts: Accounts, retry_after: int, same: bool
) -> None:
    parent = (await login(running, accounts))["refresh_token"]
    successor = (await refresh(running, accounts, parent)).json()["refresh_token"]
    running.clock.advance(retry_after)

    retry = await refresh(running, accounts, parent)

    if same:
        assert retry.status_code == 200
        assert retry.json()["refresh_token"] == successor
        assert len(await rows(running)) == 2
    else:
        assert (retry.status_code, retry.json()) == (400, REFUSED)
        assert (await refresh(running, accounts, successor)).json() == REFUSED


async def test_parent_is_refused_once_the_successor_was_used(
    running: Running, accounts: Accounts
) -> None:
    parent = (await login(running, accounts))["refresh_token"]
    successor = (await refresh(running, accounts, parent)).json()["refresh_token"]
    grandchild = (await refresh(running, accounts, successor)).json()["refresh_token"]

    retry = await refresh(running, accounts, parent)

    assert (retry.status_code, retry.json()) == (400, REFUSED)
    assert (await refresh(running, accounts, grandchild)).json() == REFUSED


async def test_reuse_after_the_window_revokes_every_descendant(
    running: Running, accounts: Accounts
) -> None:
    root = (await login(running, accounts))["refresh_token"]
    child = (await refresh(running, accounts, root)).json()["refresh_token"]
    grandchild = (await refresh(running, accounts, child)).json()["refresh_token"]
    other_login = (await login(running, accounts))["refresh_token"]
    running.clock.advance(10)

    reuse = await refresh(running, accounts, root)

    assert (reuse.status_code, reuse.json()) == (400, REFUSED)
    assert (await refresh(running, accounts, grandchild)).json() == REFUSED
    family_rows = [row for row in await rows(running) if row.token_hash != sha256(other_login)]
    assert {row.revoked_reason for row in family_rows} == {"reuse_detected"}
    assert all(row.revoked_at == START + 10 for row in family_rows)
    async with running.issuer.sessions() as session:
        events = list((await session.execute(select(SecurityEvent))).scalars())
        family = await session.get(RefreshFamily, family_rows[0].family_id)
    assert family is not None and family.revoked_reason == "reuse_detected"
    assert [(e.kind, e.family_id, e.client_id, e.user_id, e.ip) for e in events] == [
        ("refresh_token_reuse", family.id, "mobile", accounts.user_id, "127.0.0.1"),
    ]
    assert all(root not in str(e.model_dump()) for e in events)

    assert (await refresh(running, accounts, other_login)).status_code == 200
    assert "refresh_token" in await login(running, accounts)


async def test_grace_zero_turns_the_window_off(
    make_settings: Callable[..., Settings], clock: FakeClock, kek: KeyEncryptionKey
) -> None:
    from issuer.service import Issuer
    from issuer.web import create_app
    from tests.conftest import Running as R

    issuer = Issuer(make_settings(refresh_grace_seconds=0), clock=clock, kek=kek)
    await issuer.start()
    transport = httpx.ASGITransport(app=create_app(issuer, manage_lifecycle=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://issuer.test") as http:
        running = R(issuer, http, clock)
        accounts = await create_accounts(running)
        parent = (await login(running, accounts))["refresh_token"]
        assert (await refresh(running, accounts, parent)).status_code == 200
        retry = await refresh(running, accounts, parent)
    await issuer.stop()

    assert (retry.status_code, retry.json()) == (400, REFUSED)


async def test_scope_may_narrow_but_never_widen(running: Running, accounts: Accounts) -> None:
    token = (await login(running, accounts, scope="openid api"))["refresh_token"]

    wider = await refresh(running, accounts, token, scope="api profile")
    narrower = await refresh(running, accounts, token, scope="api")

    assert (wider.status_code, wider.json()["error"]) == (400, "invalid_scope")
    assert narrower.status_code == 200
    assert narrower.json()["scope"] == "api" and "id_token" not in narrower.json()
    [_, successor] = await rows(running)
    assert successor.scope == "openid api"  # RFC 6749 §6: the family keeps its scope


async def test_role_change_shows_in_the_next_access_token(
    running: Running, accounts: Accounts
) -> None:
    token = (await login(running, accounts))["refresh_token"]
    async with running.issuer.sessions() as session, session.begin():
        user = await session.get(User, accounts.user_id)
        assert user is not None
        user.roles = ["auditor"]
        user.given_name = "Alicia"

    body = (await refresh(running, accounts, token)).json()

    _, claims = segments(body["access_token"])
    assert (claims["roles"], claims["given_name"]) == (["auditor"], "Alicia")


async def test_disabled_user_and_client_are_refused(running: Running, accounts: Accounts) -> None:
    token = (await login(running, accounts))["refresh_token"]
    async with running.issuer.sessions() as session, session.begin():
        user = await session.get(User, accounts.user_id)
        assert user is not None
        user.disabled = True
    disabled_user = await refresh(running, accounts, token)
    async with running.issuer.sessions() as session, session.begin():
        user = await session.get(User, accounts.user_id)
        client = await session.get(Client, "mobile")
        assert user is not None and client is not None
        user.disabled = False
        client.disabled = True
    disabled_client = await refresh(running, accounts, token)

    assert (disabled_user.status_code, disabled_user.json()["error"]) == (400, "invalid_grant")
    assert (disabled_client.status_code, disabled_client.json()["error"]) == (400, "invalid_grant")
    [row] = await rows(running)
    assert row.used_at is None  # a refused refresh writes nothing


async def test_another_clients_refresh_token_is_refused_and_left_alone(
    running: Running, accounts: Accounts
) -> None:
    from issuer.clients import create_client

    async with running.issuer.sessions() as session, session.begin():
        _, other_secret = await create_client(
            session, "other", now=START, grants=["refresh_token"], scopes=["api"]
        )
    token = (await login(running, accounts))["refresh_token"]

    stolen = await running.http.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": token},
        headers=basic("other", other_secret or ""),
    )

    assert (stolen.status_code, stolen.json()) == (400, REFUSED)
    assert (await refresh(running, accounts, token)).status_code == 200


@pytest.mark.parametrize("token", ["", "x" * 5000, "not-a-token", "é"])
async def test_garbage_refresh_tokens(running: Running, accounts: Accounts, token: str) -> None:
    response = await refresh(running, accounts, token)

    assert response.status_code == 400
    expected = "invalid_request" if token == "" else "invalid_grant"
    assert response.json()["error"] == expected


@pytest.mark.parametrize(("grace", "successes"), [(0, 1), (5, 20)])
async def test_concurrent_refreshes_in_process(
    make_settings: Callable[..., Settings], clock: FakeClock, kek: KeyEncryptionKey,
    grace: int, successes: int,
) -> None:
    from issuer.service import Issuer
    from issuer.web import create_app
    from tests.conftest import Running as R

    issuer = Issuer(make_settings(refresh_grace_seconds=grace), clock=clock, kek=kek)
    await issuer.start()
    transport = httpx.ASGITransport(app=create_app(issuer, manage_lifecycle=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://issuer.test") as http:
        running = R(issuer, http, clock)
        accounts = await create_accounts(running)
        token = (await login(running, accounts))["refresh_token"]
        responses = await asyncio.gather(
            *(refresh(running, accounts, token) for _ in range(20))
        )
    await issuer.stop()

    ok = [r.json()["refresh_token"] for r in responses if r.status_code == 200]
    assert sorted({r.status_code for r in responses}) == ([200] if grace else [200, 400])
    assert len(ok) == successes and len(set(ok)) == 1
