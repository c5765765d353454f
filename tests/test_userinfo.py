"""``/userinfo`` with bearer tokens, and its RFC 6750 errors."""

from __future__ import annotations

import pytest

from tests.conftest import Accounts, Running, basic

pytestmark = pytest.mark.anyio


async def user_token(running: Running, accounts: Accounts, scope: str) -> str:
    response = await running.http.post(
        "/token",
        data={"grant_type": "password", "username": accounts.email,
              "password": accounts.password, "scope": scope},
        headers=basic("web", accounts.secret),
    )
    token: str = response.json()["access_token"]
    return token


async def test_userinfo_answers_the_scoped_claims(running: Running, accounts: Accounts) -> None:
    token = await user_token(running, accounts, "openid email profile")

    response = await running.http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json() == {
        "sub": accounts.user_id, "email": "Alice@Example.com",
        "given_name": "Alice", "family_name": "Liddell",
    }


async def test_userinfo_without_token_gets_bare_challenge(running: Running) -> None:
    response = await running.http.get("/userinfo")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="issuer"'


@pytest.mark.parametrize(
    "token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."]
)
async def test_userinfo_invalid_token(running: Running, token: str) -> None:
    response = await running.http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith(
        'Bearer realm="issuer", error="invalid_token"'
    )
    assert response.json()["error"] == "invalid_token"


async def test_userinfo_expired_token(running: Running, accounts: Accounts) -> None:
    token = await user_token(running, accounts, "openid")
    running.clock.advance(900)

    response = await running.http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token", "error_description": "the token has expired"}


async def test_userinfo_needs_openid_scope(running: Running, accounts: Accounts) -> None:
    token = await user_token(running, accounts, "api")

    response = await running.http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="openid"' in response.headers["www-authenticate"]


async def test_userinfo_malformed_authorization_header(running: Running) -> None:
    response = await running.http.get("/userinfo", headers={"Authorization": "Basic abc"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
