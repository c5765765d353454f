"""The classic JSON API: login, refresh-token, revoke-token."""

from __future__ import annotations

import pytest

from issuer.clients import create_client
from issuer.users import create_user
from tests.conftest import START, Accounts, Running, segments

pytestmark = pytest.mark.anyio


@pytest.fixture
async def app_client(running: Running, accounts: Accounts) -> None:
    async with running.issuer.sessions() as session, session.begin():
        await create_client(session, "app", now=START, grants=["password", "refresh_token"],
                            scopes=["openid", "api"], public=True)


async def api_login(running: Running, accounts: Accounts) -> dict:
    response = await running.http.post(
        "/api/auth/login", json={"email": accounts.email, "password": accounts.password}
    )
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def test_login_answers_the_classic_shape(
    running: Running, accounts: Accounts, app_client: None
) -> None:
    body = await api_login(running, accounts)

    assert set(body) == {"accessToken", "refreshToken", "expiration", "user"}
    assert body["expiration"] == "2027-01-15T08:15:00Z"  # START + 900 s
    assert body["user"] == {
        "id": accounts.user_id, "email": "Alice@Example.com", "firstName": "Alice",
        "lastName": "Liddell", "roles": ["admin", "staff"],
    }
    _, claims = segments(body["accessToken"])
    assert (claims["client_id"], claims["scope"], claims["exp"]) == ("app", "api openid",
                                                                     START + 900)


async def test_refresh_token_rotates(
    running: Running, accounts: Accounts, app_client: None
) -> None:
    first = await api_login(running, accounts)

    second = await running.http.post("/api/auth/refresh-token",
                                     json={"refreshToken": first["refreshToken"]})

    assert second.status_code == 200
    assert second.json()["refreshToken"] != first["refreshToken"]
    assert second.json()["user"]["id"] == accounts.user_id


async def test_revoke_token_by_its_own_user(
    running: Running, accounts: Accounts, app_client: None
) -> None:
    session = await api_login(running, accounts)

    response = await running.http.post(
        "/api/auth/revoke-token", json={"refreshToken": session["refreshToken"]},
        headers={"Authorization": f"Bearer {session['accessToken']}"},
    )
    again = await running.http.post("/api/auth/refresh-token",
                                    json={"refreshToken": session["refreshToken"]})

    assert (response.status_code, response.json()) == (200, {"message": "Token revoked"})
    assert again.status_code == 400
    assert again.json() == {"message": "the refresh token is invalid, expired or revoked"}


async def test_revoke_token_with_another_users_bearer_is_forbidden(
    running: Running, accounts: Accounts, app_client: None
) -> None:
    async with running.issuer.sessions() as db, db.begin():
        await create_user(db, running.issuer.passwords, "bob@example.com", "bobs password",
                          now=START)
    alice = await api_login(running, accounts)
    bob = (await running.http.post(
        "/api/auth/login", json={"email": "bob@example.com", "password": "bobs password"}
    )).json()

    response = await running.http.post(
        "/api/auth/revoke-token", json={"refreshToken": alice["refreshToken"]},
        headers={"Authorization": f"Bearer {bob['accessToken']}"},
    )

    assert response.status_code == 403
    assert response.json() == {"message": "the refresh token is unknown or not yours"}
    still = await running.http.post("/api/auth/refresh-token",
                                    json={"refreshToken": alice["refreshToken"]})
    assert still.status_code == 200


async def test_revoke_token_needs_a_bearer(
    running: Running, accounts: Accounts, app_client: None
) -> None:
    response = await running.http.post("/api/auth/revoke-token", json={"refreshToken": "x"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="issuer"'


@pytest.mark.parametrize(
    ("path", "body", "content_type", "message"),
    [
        ("/api/auth/login", b"{not json", "application/json", "the body is not valid JSON"),
        ("/api/auth/login", b"[1, 2]", "application/json", "the body must be a JSON object"),
        ("/api/auth/login", b'{"email": "a@b.c"}', "application/json",
         "password is required and must be a string"),
        ("/api/auth/login", b'{"email": 5, "password": "x"}', "application/json",
         "email is required and must be a string"),
        ("/api/auth/login", b"email=a", "text/plain", "the body must be application/json"),
        ("/api/auth/refresh-token", b"\xff\xfe", "application/json", "the body is not valid JSON"),
        ("/api/auth/refresh-token", b"{}", "application/json",
         "refreshToken is required and must be a string"),
    ],
)
async def test_bad_json_gets_400_with_a_message(
    running: Running, accounts: Accounts, app_client: None, path: str, body: bytes,
    content_type: str, message: str,
) -> None:
    response = await running.http.post(path, content=body, headers={"Content-Type": content_type})

    assert (response.status_code, response.json()) == (400, {"message": message})


async def test_wrong_password(running: Running, accounts: Accounts, app_client: None) -> None:
    response = await running.http.post(
        "/api/auth/login", json={"email": accounts.email, "password": "wrong password"}
    )

    assert response.status_code == 400
    assert response.json() == {
        "message": "the email or password is wrong, or the account is disabled"}


async def test_without_the_api_client_the_api_says_so(running: Running, accounts: Accounts) -> None:
    response = await running.http.post(
        "/api/auth/login", json={"email": accounts.email, "password": accounts.password}
    )

    assert response.status_code == 503
    assert response.json() == {"message": "the JSON API needs an enabled client 'app'"}
