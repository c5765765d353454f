"""Errors raised by the verifier.

    VerifierError                  base; every error has a stable snake_case ``code``
    ├── ConfigurationError         (also a ValueError) bad constructor arguments
    └── TokenError                 the token cannot be accepted; ``claim`` names the culprit
        └── KeySetUnavailable      no usable key set could be obtained (outage, not forgery)

Messages are fixed English sentences written by this library. They never contain the
token, and never echo values taken from the token (a ``kid`` or ``iss`` is attacker text).
"""

from __future__ import annotations

INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a secret
TOKEN_EXPIRED = "token_expired"  # noqa: S105 - an error code, not a secret
INSUFFICIENT_SCOPE = "insufficient_scope"
TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"


class VerifierError(Exception):
    """Base of every error raised by :mod:`issuer.verifier`."""

    code = "verifier_error"


class ConfigurationError(VerifierError, ValueError):
    """A verifier or key set was constructed with unusable arguments."""

    code = "configuration_error"


class TokenError(VerifierError):
    """A token was refused.

    ``code`` is one of ``invalid_token`` and ``insufficient_scope`` (RFC 6750 §3.1),
    ``token_expired`` (an ``invalid_token`` whose only fault is its ``exp``, RFC 7519
    §4.1.4) or ``temporarily_unavailable`` (see :class:`KeySetUnavailable`).
    ``claim`` names the claim, header member or token part at fault, for example
    ``"exp"``, ``"aud"``, ``"alg"``, ``"kid"``, ``"signature"`` or ``"token"``.
    """

    def __init__(self, code: str, claim: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.claim = claim
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, claim={self.claim!r})"


class KeySetUnavailable(TokenError):
    """No key set could be fetched, or the last good one is older than allowed.

    The token may well be valid: this is an outage of the issuer's JWKS endpoint, and the
    Starlette integration answers it with 503 rather than 401.
    """

    def __init__(self, message: str = "no usable key set could be fetched") -> None:
        super().__init__(TEMPORARILY_UNAVAILABLE, "kid", message)


def invalid(claim: str, message: str) -> TokenError:
    """Build an ``invalid_token`` error (RFC 6750 §3.1)."""
    return TokenError(INVALID_TOKEN, claim, message)
