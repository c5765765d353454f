"""Verify the issuer's JWT access tokens in a resource server.

    verifier = TokenVerifier(issuer="https://id.example", audience="orders-api")
    token = await verifier.verify(raw_token, required_scopes=["orders:read"])
    token.subject, token.scopes, token.roles, token.claims

Imports nothing from the issuer's server code; needs cryptography and httpx (and
Starlette for :mod:`issuer.verifier.starlette` only).
"""

from ._errors import (
    ConfigurationError,
    KeySetUnavailable,
    TokenError,
    VerifierError,
)
from ._keys import KeySet, PublicKey
from ._remote import RemoteKeySet
from ._verifier import KeySource, TokenVerifier, VerifiedToken

__all__ = [
    "ConfigurationError",
    "KeySet",
    "KeySetUnavailable",
    "KeySource",
    "PublicKey",
    "RemoteKeySet",
    "TokenError",
    "TokenVerifier",
    "VerifiedToken",
    "VerifierError",
]
