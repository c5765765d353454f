"""Discovery documents, the JWK set, health and readiness."""

from __future__ import annotations

import pytest

from tests.conftest import Accounts, Running, basic

pytestmark = pytest.mark.anyio

RSA_PUBLIC = {"kty", "kid", "use", "alg", "n", "e"}
EC_PUBLIC = {"kty", "kid", "use", "alg", "crv", "x", "y"}


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
)
async def test_discovery_lists_everything(running: Running, path: str) -> None:
    response = await running.http.get(path)

    assert response.status_code == 200
    assert response.json() == {
        "issuer": "https://issuer.test",
        "token_endpoint": "https://issuer.test/token",
        "jwks_uri": "https://issuer.test/.well-known/jwks.json",
        "userinfo_endpoint": "https://issuer.test/userinfo",
        "revocation_endpoint": "https://issuer.test/revoke",
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "none",
        ],
        "introspection_endpoint": "https://issuer.test/introspect",
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post",
        ],
        "grant_types_supported": ["client_credentials", "password", "refresh_token"],
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "none",
        ],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "roles"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "jti", "auth_time", "client_id", "scope",
            "roles", "email", "given_name", "family_name", "sid",
        ],
    }


async def test_jwks_has_public_members_only_and_caching_headers(running: Running) -> None:
    response = await running.http.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    assert len(keys) == 1
    assert set(keys[0]) == RSA_PUBLIC
    assert keys[0]["kid"] == running.issuer.keys.ring.require_signer().kid
    assert (keys[0]["use"], keys[0]["alg"], keys[0]["e"]) == ("sig", "RS256", "AQAB")


async def test_jwks_etag_gives_304(running: Running) -> None:
    first = await running.http.get("/.well-known/jwks.json")
    etag = first.headers["etag"]

    again = await running.http.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    weak = await running.http.get(
        "/.well-known/jwks.json", headers={"If-None-Match": f'"other", W/{etag}'}
    )
    stale = await running.http.get("/.well-known/jwks.json", headers={"If-None-Match": '"old"'})

    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    assert again.headers["cache-control"] == "public, max-age=300"
    assert weak.status_code == 304
    assert stale.status_code == 200 and stale.json() == first.json()


async def test_health_and_readiness(running: Running) -> None:
    health = await running.http.get("/healthz")
    ready = await running.http.get("/readyz")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": True, "signing_key": True}}


async def test_not_ready_without_an_active_key(running: Running, accounts: Accounts) -> None:
    from dataclasses import replace

    keys = running.issuer.keys
    keys.ring = replace(keys.ring, signer=None)

    ready = await running.http.get("/readyz")
    token = await running.http.post(
        "/token", data={"grant_type": "client_credentials"},
        headers=basic("service", accounts.service_secret),
    )

    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": True, "signing_key": False}
    assert token.status_code == 503
    assert token.json()["error"] == "temporarily_unavailable"


async def test_es256_issuer_publishes_an_ec_key(make_settings, clock, kek) -> None:
    from issuer.service import Issuer

    issuer = Issuer(make_settings(signing_alg="ES256"), clock=clock, kek=kek)
    await issuer.start()
    try:
        import json

        keys = json.loads(issuer.keys.ring.jwks)["keys"]
    finally:
        await issuer.stop()

    assert len(keys) == 1 and set(keys[0]) == EC_PUBLIC
    assert (keys[0]["kty"], keys[0]["crv"], keys[0]["alg"]) == ("EC", "P-256", "ES256")
