"""The Starlette integration and the example resource server, in-process."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from verifier_testkit import (
    AUDIENCE,
    DISCOVERY_URL,
    ISSUER,
    JWKS_URL,
    NOW,
    claims,
    sign,
)

from issuer.verifier import TokenVerifier
from issuer.verifier.starlette import requires_token

pytestmark = pytest.mark.anyio


def build_app(verifier: TokenVerifier) -> Starlette:
    @requires_token(verifier)
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse(dict(request.state.token.claims))

    @requires_token(verifier, scopes=["orders:write"])
    async def write(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @requires_token(verifier, roles=["admin"])
    def admin(request: Request) -> JSONResponse:  # a sync endpoint runs in the threadpool
        return JSONResponse({"sub": request.state.token.subject})

    return Starlette(
        routes=[Route("/whoami", whoami), Route("/write", write), Route("/admin", admin)]
    )


@pytest.fixture
async def client(verifier):
    transport = httpx.ASGITransport(app=build_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_token_reaches_the_endpoint(client, keys, fake_issuer):
    response = await client.get("/whoami", headers=bearer(sign(claims(), keys.rsa)))
    assert response.status_code == 200
    assert response.json() == claims()
    assert fake_issuer.urls == [JWKS_URL]


async def test_the_scheme_is_case_insensitive(client, keys):
    token = sign(claims(), keys.rsa)
    response = await client.get("/whoami", headers={"Authorization": f"bEARER {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}])
async def test_no_token_gets_a_bare_challenge(client, fake_issuer, headers):
    response = await client.get("/whoami", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Token-Expired" not in response.headers
    assert fake_issuer.urls == []


@pytest.mark.parametrize(
    "headers",
    [
        [("Authorization", "Bearer")],
        [("Authorization", "Bearer ")],
        [("Authorization", "Bearer a b")],
        [("Authorization", "Bearer  abc")],
        [("Authorization", "Bearer a\tb")],
        [("Authorization", "Bearer abc"), ("Authorization", "Bearer def")],
    ],
)
async def test_a_malformed_header_is_a_bad_request(client, fake_issuer, headers):
    response = await client.get("/whoami", headers=headers)
    assert response.status_code == 400
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_request", ')
    assert response.json()["error"] == "invalid_request"
    assert fake_issuer.urls == []


async def test_an_invalid_token_gets_invalid_token(client, keys):
    response = await client.get("/whoami", headers=bearer(sign(claims(), keys.other_rsa)))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="the signature does not verify"'
    )
    assert "Token-Expired" not in response.headers
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "the signature does not verify",
    }


async def test_an_expired_token_says_so(client, keys, clock):
    token = sign(claims(exp=int(NOW) + 10), keys.rsa)
    clock.advance(70)
    response = await client.get("/whoami", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="the token has expired"'
    )
    assert response.headers["Token-Expired"] == "true"


async def test_a_missing_scope_is_forbidden(client, keys):
    response = await client.get("/write", headers=bearer(sign(claims(), keys.rsa)))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", '
        'error_description="the token lacks a required scope", scope="orders:write"'
    )
    granted = sign(claims(scope="orders:write"), keys.rsa)
    assert (await client.get("/write", headers=bearer(granted))).json() == {"ok": True}


async def test_a_missing_role_is_forbidden(client, keys):
    response = await client.get("/admin", headers=bearer(sign(claims(), keys.rsa)))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", error_description="the token lacks a required role"'
    )
    admin = sign(claims(roles=["admin"]), keys.rsa)
    response = await client.get("/admin", headers=bearer(admin))
    assert (response.status_code, response.json()) == (200, {"sub": "user-42"})


async def test_an_unreachable_key_set_is_a_503(client, keys, fake_issuer):
    fake_issuer.jwks_answer = lambda request: httpx.Response(502)
    response = await client.get("/whoami", headers=bearer(sign(claims(), keys.rsa)))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "WWW-Authenticate" not in response.headers
    assert response.json()["error"] == "temporarily_unavailable"


def load_example() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "resource_server.py"
    spec = importlib.util.spec_from_file_location("example_resource_server", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_resource_server(keys, fake_issuer, clock):
    app = load_example().create_app(ISSUER, AUDIENCE, transport=fake_issuer.transport, clock=clock)
    user = bearer(sign(claims(), keys.rsa))
    admin = bearer(sign(claims(roles=["user", "admin"]), keys.ec256, "ec-256", "ES256"))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api.example") as client,
    ):
        response = await client.get("/whoami", headers=user)
        assert (response.status_code, response.json()["sub"]) == (200, "user-42")
        response = await client.get("/admin", headers=user)
        assert response.status_code == 403
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
        response = await client.get("/admin", headers=admin)
        assert (response.status_code, response.json()) == (200, {"sub": "user-42", "admin": True})
        assert (await client.get("/whoami")).status_code == 401
    assert fake_issuer.urls == [DISCOVERY_URL, JWKS_URL]
