"""Discovery (OIDC Discovery 1.0 §3, RFC 8414 §2) and the JWK set (RFC 7517 §5)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..scopes import OPENID_SCOPES
from ..service import Issuer
from .clientauth import AUTH_METHODS, CONFIDENTIAL_AUTH_METHODS
from .responses import json_response
from .token import GRANT_HANDLERS

CLAIMS = (
    "iss", "sub", "aud", "exp", "iat", "jti", "auth_time", "client_id", "scope",
    "roles", "email", "given_name", "family_name", "sid",
)


def metadata(issuer: Issuer) -> dict[str, Any]:
    """Every endpoint, grant, auth method, algorithm, scope and claim this issuer has."""
    base = issuer.settings.url
    algorithms = sorted({issuer.settings.signing_alg, *issuer.keys.ring.algorithms})
    return {
        "issuer": base,
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "userinfo_endpoint": f"{base}/userinfo",
        "revocation_endpoint": f"{base}/revoke",
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint": f"{base}/introspect",
        "introspection_endpoint_auth_methods_supported": list(CONFIDENTIAL_AUTH_METHODS),
        "grant_types_supported": sorted(GRANT_HANDLERS),
        # No authorization endpoint: no grant here uses one (RFC 8414 §2).
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "id_token_signing_alg_values_supported": algorithms,
        "scopes_supported": list(OPENID_SCOPES),
        "claims_supported": list(CLAIMS),
    }


async def openid_configuration(request: Request) -> Response:
    issuer: Issuer = request.app.state.issuer
    return json_response(metadata(issuer), headers={"Cache-Control": "public, max-age=3600"})


async def jwks(request: Request) -> Response:
    """The published key set; ``max-age`` is the cache lifetime that key rotation waits for."""
    issuer: Issuer = request.app.state.issuer
    ring = issuer.keys.ring
    headers = {
        "Cache-Control": f"public, max-age={issuer.settings.jwks_max_age}",
        "ETag": ring.etag,
    }
    if _matches(request.headers.get("if-none-match"), ring.etag):
        return Response(status_code=304, headers=headers)
    return Response(ring.jwks, headers=headers, media_type="application/jwk-set+json")


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison against each listed tag, or ``*``."""
    if if_none_match is None:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)
