"""Keys, tokens and a fake issuer for the verifier tests (signing is done by PyJWT)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, get_default_algorithms

ISSUER = "https://issuer.example"
AUDIENCE = "orders-api"
JWKS_URL = ISSUER + "/.well-known/jwks.json"
DISCOVERY_URL = ISSUER + "/.well-known/openid-configuration"
NOW = 1_700_000_000.0


class Clock:
    """An injected clock: seconds, advanced by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(private_key: Any, kid: str, **members: Any) -> dict[str, Any]:
    public = private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", **members}


class Keys:
    """The issuer's signing keys: RSA-2048, P-256 and P-384."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec256 = ec.generate_private_key(ec.SECP256R1())
        self.ec384 = ec.generate_private_key(ec.SECP384R1())
        self.other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                public_jwk(self.rsa, "rsa-1"),
                public_jwk(self.ec256, "ec-256"),
                public_jwk(self.ec384, "ec-384"),
            ]
        }


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "sub": "user-42",
        "aud": AUDIENCE,
        "exp": int(NOW) + 300,
        "iat": int(NOW),
        "jti": "jti-1",
        "client_id": "web",
        "scope": "orders:read profile",
        "roles": ["user"],
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(
    payload: dict[str, Any], key: Any, kid: Any = "rsa-1", alg: str = "RS256", **header: Any
) -> str:
    """A token signed by PyJWT (an implementation independent of the verifier)."""
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, "typ": "at+jwt", **header})


def sign_raw(
    header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, key: Any, alg: str = "RS256"
) -> str:
    """Sign exact header and payload bytes with PyJWT's algorithm objects."""
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
    payload_bytes = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64(header_bytes)}.{b64(payload_bytes)}"
    algorithm = get_default_algorithms()[alg]
    signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(key))
    return f"{signing_input}.{b64(signature)}"


Answer = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class FakeIssuer:
    """Serves discovery and the JWK Set, and records every request."""

    def __init__(self, jwks: dict[str, Any], cache_control: str = "public, max-age=300") -> None:
        self.jwks = jwks
        self.cache_control = cache_control
        self.discovery: dict[str, Any] = {"issuer": ISSUER, "jwks_uri": JWKS_URL}
        self.jwks_answer: Answer | None = None
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    @property
    def urls(self) -> list[str]:
        return [str(request.url) for request in self.requests]

    def count(self, url: str = JWKS_URL) -> int:
        return self.urls.count(url)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for _ in range(3):
            await asyncio.sleep(0)
        url = str(request.url)
        if url == DISCOVERY_URL:
            return httpx.Response(200, json=self.discovery)
        if url != JWKS_URL:
            return httpx.Response(404)
        if self.jwks_answer is not None:
            answer = self.jwks_answer(request)
            return answer if isinstance(answer, httpx.Response) else await answer
        return self.jwks_response(request)

    def jwks_response(self, request: httpx.Request) -> httpx.Response:
        body = json.dumps(self.jwks).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"Cache-Control": self.cache_control, "ETag": etag}
        if request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers=headers)
        headers["Content-Type"] = "application/json"
        return httpx.Response(200, content=body, headers=headers)
