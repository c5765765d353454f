"""RFC 7009 revocation and RFC 7662 introspection, including other clients' tokens."""

from __future__ import annotations

import pytest

from issuer.clients import create_client
from tests.conftest import START, Accounts, Running, basic, segments
from tests.test_refresh import login, refresh

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(refresh_idle_ttl=100, refresh_absolute_ttl=250, refresh_grace_seconds=5)


@pytest.fixture
async def other_secret(running: Running, accounts: Accounts) -> str:
    async with running.issuer.sessions() as session, session.begin():
        _, secret = await create_client(
            session, "other", now=START, grants=["client_credentials"], scopes=["api"]
        )
    return secret or ""


async def revoke(running: Running, token: str, auth: dict[str, str], **extra: str):
    return await running.http.post("/revoke", data={"token": token, **extra}, headers=auth)


async def introspect(running: Running, token: str, auth: dict[str, str]) -> dict:
    response = await running.http.post("/introspect", data={"token": token}, headers=auth)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body: dict = response.json()
    return body


async def test_revoking_a_refresh_token_revokes_its_family(
    running: Running, accounts: Accounts
) -> None:
    mobile = basic("mobile", accounts.mobile_secret)
    root = (await login(running, accounts))["refresh_token"]
    child = (await refresh(running, accounts, root)).json()["refresh_token"]

    response = await revoke(running, root, mobile, token_type_hint="refresh_token")

    assert (response.status_code, response.content) == (200, b"")
    assert (await refresh(running, accounts, child)).json()["error"] == "invalid_grant"
    assert await introspect(running, child, mobile) == {"active": False}


async def test_revoking_another_clients_token_answers_200_and_changes_nothing(
    running: Running, accounts: Accounts, other_secret: str
) -> None:
    body = await login(running, accounts)

    for token in (body["refresh_token"], body["access_token"]):
        response = await revoke(running, token, basic("other", other_secret))
        assert response.status_code == 200

    mobile = basic("mobile", accounts.mobile_secret)
    assert (await introspect(running, body["access_token"], mobile))["active"] is True
    assert (await refresh(running, accounts, body["refresh_token"])).status_code == 200


async def test_revoking_an_access_token_records_its_jti(
    running: Running, accounts: Accounts
) -> None:
    mobile = basic("mobile", accounts.mobile_secret)
    access = (await login(running, accounts))["access_token"]

    first = await revoke(running, access, mobile, token_type_hint="access_token")
    assert first.status_code == 200
    assert (await revoke(running, access, mobile)).status_code == 200  # twice is fine

    assert await introspect(running, access, mobile) == {"active": False}
    userinfo = await running.http.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert (userinfo.status_code, userinfo.json()["error"]) == (401, "invalid_token")


@pytest.mark.parametrize("token", ["unknown", "x" * 3000, "a.b.c"])
async def test_revoking_unknown_tokens_answers_200(
    running: Running, accounts: Accounts, token: str
) -> None:
    response = await revoke(running, token, basic("mobile", accounts.mobile_secret))
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
async def test_revoke_and_introspect_need_client_authentication(
    running: Running, accounts: Accounts, path: str
) -> None:
    anonymous = await running.http.post(path, data={"token": "x"})
    wrong = await running.http.post(path, data={"token": "x"},
                                    headers=basic("mobile", "wrong"))
    no_token = await running.http.post(path, data={},
                                       headers=basic("mobile", accounts.mobile_secret))

    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "invalid_client")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert wrong.headers["www-authenticate"].startswith("Basic ")
    assert (no_token.status_code, no_token.json()["error"]) == (400, "invalid_request")


async def test_introspect_active_access_token(running: Running, accounts: Accounts) -> None:
    body = await login(running, accounts)
    _, claims = segments(body["access_token"])

    mobile = basic("mobile", accounts.mobile_secret)
    result = await introspect(running, body["access_token"], mobile)

    assert result == {
        "active": True, "token_type": "Bearer", "scope": "openid api", "client_id": "mobile",
        "sub": accounts.user_id, "exp": START + 900, "iat": START,
        "iss": "https://issuer.test", "aud": "api", "jti": claims["jti"],
    }


async def test_introspect_active_refresh_token(running: Running, accounts: Accounts) -> None:
    token = (await login(running, accounts))["refresh_token"]

    result = await introspect(running, token, basic("mobile", accounts.mobile_secret))

    assert result == {
        "active": True, "token_type": "refresh_token", "scope": "openid api",
        "client_id": "mobile", "sub": accounts.user_id, "exp": START + 100, "iat": START,
        "iss": "https://issuer.test", "aud": "api",
    }


async def test_introspect_inactive_tokens(
    running: Running, accounts: Accounts, other_secret: str
) -> None:
    mobile = basic("mobile", accounts.mobile_secret)
    body = await login(running, accounts)
    used = body["refresh_token"]
    live = (await refresh(running, accounts, used)).json()["refresh_token"]

    assert await introspect(running, used, mobile) == {"active": False}
    assert await introspect(running, "unknown", mobile) == {"active": False}
    assert await introspect(running, live, basic("other", other_secret)) == {"active": False}
    assert await introspect(running, body["access_token"], basic("other", other_secret)) == {
        "active": False}

    running.clock.advance(900)
    assert await introspect(running, body["access_token"], mobile) == {"active": False}
    assert await introspect(running, live, mobile) == {"active": False}


async def test_public_clients_may_revoke_but_not_introspect(
    running: Running, accounts: Accounts
) -> None:
    access = (await running.http.post("/token", data={
        "grant_type": "password", "client_id": "spa", "username": accounts.email,
        "password": accounts.password})).json()["access_token"]

    introspection = await running.http.post(
        "/introspect", data={"client_id": "spa", "token": access})
    revocation = await running.http.post("/revoke", data={"client_id": "spa", "token": access})

    assert (introspection.status_code, introspection.json()["error"]) == (401, "invalid_client")
    assert revocation.status_code == 200
    mobile = basic("mobile", accounts.mobile_secret)
    assert await introspect(running, access, mobile) == {"active": False}  # another client's
