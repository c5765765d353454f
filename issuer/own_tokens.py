"""Checking access tokens that this issuer signed, against its own published keys."""

from __future__ import annotations

import json
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .errors import InvalidToken
from .service import Issuer
from .tokens import ACCESS_TOKEN_TYP

MAX_TOKEN_BYTES = 8192
_key_sets: dict[str, KeySet] = {}


def verify_access_token(issuer: Issuer, token: str) -> dict[str, Any]:
    """Signature by a published key, ``typ``, ``iss`` and ``exp``; the claims, or InvalidToken."""
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("the token is too large")
    ring = issuer.keys.ring
    try:
        decoded = jwt.decode(token, _key_set(ring.etag, ring.jwks), algorithms=["RS256", "ES256"])
    except (JoseError, ValueError, TypeError):
        raise InvalidToken("the token is malformed or its signature does not verify") from None
    if str(decoded.header.get("typ", "")).lower() != ACCESS_TOKEN_TYP:
        raise InvalidToken("the token is not an access token")

    claims = decoded.claims
    exp = claims.get("exp")
    if claims.get("iss") != issuer.settings.url or not isinstance(claims.get("sub"), str):
        raise InvalidToken("the token was not issued here")
    if not isinstance(exp, int) or isinstance(exp, bool) or exp <= issuer.clock():
        raise InvalidToken("the token has expired")
    return claims


def _key_set(etag: str, body: bytes) -> KeySet:
    key_set = _key_sets.get(etag)
    if key_set is None:
        key_set = KeySet.import_key_set(json.loads(body))
        _key_sets.clear()
        _key_sets[etag] = key_set
    return key_set
