"""The token endpoint: both grants, exact claims, and every bad input of RFC 6749 §5.2."""

from __future__ import annotations

import base64

import jwt as pyjwt
import pytest

from tests.conftest import START, Accounts, Running, basic, segments

pytestmark = pytest.mark.anyio

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def token(running: Running, data: dict[str, str], headers: dict[str, str] | None = None):
    return await running.http.post("/token", data=data, headers=headers or {})


async def test_password_grant_claims_are_exact(running: Running, accounts: Accounts) -> None:
    response = await token(
        running,
        {"grant_type": "password", "username": "alice@EXAMPLE.com",
         "password": "correct horse", "scope": "openid email api"},
        basic("web", accounts.secret),
    )

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "id_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "openid email api"

    header, claims = segments(body["access_token"])
    kid = running.issuer.keys.ring.require_signer().kid
    assert header == {"alg": "RS256", "kid": kid, "typ": "at+jwt"}
    jti = claims.pop("jti")
    assert isinstance(jti, str) and len(jti) >= 22
    assert claims == {
        "iss": "https://issuer.test",
        "sub": accounts.user_id,
        "aud": "api",
        "exp": START + 900,
        "iat": START,
        "client_id": "web",
        "scope": "openid email api",
        "auth_time": START,
        "roles": ["admin", "staff"],
        "email": "Alice@Example.com",
        "given_name": "Alice",
        "family_name": "Liddell",
    }


async def test_id_token_audience_is_the_client(running: Running, accounts: Accounts) -> None:
    response = await token(
        running,
        {"grant_type": "password", "username": accounts.email, "password": accounts.password,
         "scope": "openid profile"},
        basic("web", accounts.secret),
    )

    header, claims = segments(response.json()["id_token"])
    assert header["typ"] == "JWT"
    assert claims == {
        "iss": "https://issuer.test", "sub": accounts.user_id, "aud": "web",
        "exp": START + 900, "iat": START, "auth_time": START,
        "given_name": "Alice", "family_name": "Liddell",
    }


async def test_no_id_token_without_openid(running: Running, accounts: Accounts) -> None:
    response = await token(
        running,
        {"grant_type": "password", "username": accounts.email, "password": accounts.password,
         "scope": "api"},
        basic("web", accounts.secret),
    )
    assert "id_token" not in response.json()


async def test_client_credentials_subject_and_audience(
    running: Running, accounts: Accounts
) -> None:
    response = await token(
        running, {"grant_type": "client_credentials", "scope": "reports"},
        basic("service", accounts.service_secret),
    )

    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "reports" and "id_token" not in body
    _, claims = segments(body["access_token"])
    claims.pop("jti")
    assert claims == {
        "iss": "https://issuer.test", "sub": "service", "aud": "billing",
        "exp": START + 900, "iat": START, "client_id": "service", "scope": "reports",
    }


async def test_client_secret_post_and_default_scope(running: Running, accounts: Accounts) -> None:
    response = await token(
        running,
        {"grant_type": "client_credentials", "client_id": "service",
         "client_secret": accounts.service_secret},
    )

    assert response.status_code == 200
    assert response.json()["scope"] == "api reports"


async def test_public_client_password_grant(running: Running, accounts: Accounts) -> None:
    response = await token(
        running,
        {"grant_type": "password", "client_id": "spa", "username": accounts.email,
         "password": accounts.password},
    )

    assert response.status_code == 200
    _, claims = segments(response.json()["access_token"])
    assert claims["client_id"] == "spa" and claims["scope"] == "api"


async def test_tokens_verify_with_pyjwt(running: Running, accounts: Accounts) -> None:
    response = await token(
        running, {"grant_type": "client_credentials"}, basic("service", accounts.service_secret)
    )
    jwks = (await running.http.get("/.well-known/jwks.json")).json()
    key = pyjwt.PyJWK(jwks["keys"][0])

    claims = pyjwt.decode(
        response.json()["access_token"], key.key, algorithms=["RS256"], audience="billing",
        issuer="https://issuer.test", options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == "service"


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice@example.com", "wrong password"), ("nobody@example.com", "correct horse")],
)
async def test_login_failure_is_the_same_for_unknown_and_wrong(
    running: Running, accounts: Accounts, username: str, password: str
) -> None:
    response = await token(
        running, {"grant_type": "password", "username": username, "password": password},
        basic("web", accounts.secret),
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "the email or password is wrong, or the account is disabled",
    }


async def test_login_does_the_same_argon2_work_whether_or_not_the_email_exists(
    running: Running, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    passwords = running.issuer.passwords
    original = passwords._check

    def counting(stored_hash: str, password: str) -> bool:
        checks.append(stored_hash.split("$")[1])
        return original(stored_hash, password)

    monkeypatch.setattr(passwords, "_check", counting)
    for username in ("alice@example.com", "nobody@example.com"):
        await token(
            running, {"grant_type": "password", "username": username, "password": "nope nope"},
            basic("web", accounts.secret),
        )

    assert checks == ["argon2id", "argon2id"]


async def test_disabled_user_is_refused(running: Running, accounts: Accounts) -> None:
    from issuer.users import get_user

    async with running.issuer.sessions() as session, session.begin():
        user = await get_user(session, accounts.user_id)
        assert user is not None
        user.disabled = True

    response = await token(
        running,
        {"grant_type": "password", "username": accounts.email, "password": accounts.password},
        basic("web", accounts.secret),
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def test_password_is_rehashed_when_parameters_change(
    running: Running, accounts: Accounts
) -> None:
    from issuer.passwords import Passwords
    from issuer.users import get_user

    stronger = running.issuer.settings.model_copy(update={"argon2_time_cost": 2})
    running.issuer.passwords = Passwords(stronger)

    response = await token(
        running,
        {"grant_type": "password", "username": accounts.email, "password": accounts.password},
        basic("web", accounts.secret),
    )

    assert response.status_code == 200
    async with running.issuer.sessions() as session:
        user = await get_user(session, accounts.user_id)
    assert user is not None and ",t=2," in user.password_hash


def _bad_basic() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(b"web:not-the-secret").decode()}


BAD_INPUTS = [
    # (description, body, headers, status, error)
    ("wrong content type", '{"grant_type":"client_credentials"}',
     {"Content-Type": "application/json"}, 400, "invalid_request"),
    ("missing content type", "grant_type=client_credentials", {"Content-Type": ""},
     400, "invalid_request"),
    ("missing grant_type", "scope=api", FORM, 400, "invalid_request"),
    ("repeated grant_type", "grant_type=password&grant_type=client_credentials", FORM,
     400, "invalid_request"),
    ("repeated scope", "grant_type=client_credentials&scope=api&scope=api", FORM,
     400, "invalid_request"),
    ("unknown grant type", "grant_type=urn:example:magic", FORM, 400, "unsupported_grant_type"),
    ("authorization_code not offered", "grant_type=authorization_code&code=x", FORM,
     400, "unsupported_grant_type"),
    ("non-UTF-8 percent escape", "grant_type=client_credentials&scope=%ff%fe", FORM,
     400, "invalid_request"),
    ("raw non-ASCII bytes", b"grant_type=client_credentials&scope=\xe9", FORM,
     400, "invalid_request"),
    ("body over the limit", "grant_type=client_credentials&pad=" + "x" * 20000, FORM,
     413, "invalid_request"),
    ("too many parameters", "&".join(f"p{i}=v" for i in range(60)), FORM,
     400, "invalid_request"),
    ("no client authentication", "grant_type=client_credentials", FORM, 401, "invalid_client"),
    ("unknown client", "grant_type=client_credentials&client_id=ghost&client_secret=x", FORM,
     401, "invalid_client"),
    ("wrong secret by post", "grant_type=client_credentials&client_id=web&client_secret=x",
     FORM, 401, "invalid_client"),
    ("confidential client without secret", "grant_type=client_credentials&client_id=web",
     FORM, 401, "invalid_client"),
    ("public client with a secret", "grant_type=password&client_id=spa&client_secret=x"
     "&username=a@b.c&password=x", FORM, 401, "invalid_client"),
    ("bearer instead of basic", "grant_type=client_credentials",
     {**FORM, "Authorization": "Bearer abc"}, 401, "invalid_client"),
    ("basic not base64", "grant_type=client_credentials",
     {**FORM, "Authorization": "Basic %%%"}, 401, "invalid_client"),
    ("two auth methods", "grant_type=client_credentials&client_secret=x",
     {**FORM, **_bad_basic()}, 400, "invalid_request"),
    ("grant not allowed to the client", "grant_type=password&client_id=service"
     "&client_secret={svc}&username=alice@example.com&password=correct%20horse",
     FORM, 400, "unauthorized_client"),
    ("public client asking client_credentials", "grant_type=client_credentials&client_id=spa",
     FORM, 400, "unauthorized_client"),
    ("unknown scope", "grant_type=client_credentials&client_id=service&client_secret={svc}"
     "&scope=admin", FORM, 400, "invalid_scope"),
    ("openid without a user", "grant_type=client_credentials&client_id=web&client_secret={web}"
     "&scope=openid", FORM, 400, "invalid_scope"),
    ("malformed scope", "grant_type=client_credentials&client_id=service&client_secret={svc}"
     "&scope=api%20%20reports", FORM, 400, "invalid_scope"),
    ("password grant without password", "grant_type=password&client_id=web&client_secret={web}"
     "&username=alice@example.com", FORM, 400, "invalid_request"),
]


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
async def test_bad_input_gets_rfc6749_error(
    running: Running, accounts: Accounts, body: str | bytes, headers: dict[str, str],
    status: int, error: str,
) -> None:
    if isinstance(body, str):
        body = body.replace("{svc}", accounts.service_secret).replace("{web}", accounts.secret)
        body = body.encode()
    response = await running.http.post("/token", content=body, headers=headers)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"
    assert accounts.secret not in response.text


async def test_wrong_basic_secret_gets_401_with_challenge(
    running: Running, accounts: Accounts
) -> None:
    response = await token(running, {"grant_type": "client_credentials"}, _bad_basic())

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")


async def test_get_on_token_endpoint_is_405(running: Running) -> None:
    response = await running.http.get("/token")
    assert response.status_code == 405
