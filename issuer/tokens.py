"""Access tokens (RFC 9068) and ID tokens (OpenID Connect Core §2), signed by the active key.

This module decides the claims; :class:`keys.Signer` frames and signs them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from keys import KeyManager

from .models import Client, User
from .settings import Settings

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - a media type, not a secret
ID_TOKEN_TYP = "JWT"  # noqa: S105


@dataclass(frozen=True)
class Grant:
    """What a grant decided: who the token is for, for which client, with which scopes."""

    client: Client
    scopes: tuple[str, ...]
    user: User | None = None
    auth_time: int | None = None
    refresh_token: str | None = None
    session_id: str | None = None  # the refresh-token family, when there is one

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    scope: str
    id_token: str | None = None
    refresh_token: str | None = None

    def as_response(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 successful response body."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.id_token is not None:
            body["id_token"] = self.id_token
        return body


class TokenMinter:
    def __init__(self, settings: Settings, keys: KeyManager, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._keys = keys
        self._clock = clock

    def issue(self, grant: Grant) -> IssuedTokens:
        """Sign the access token (and the ID token when ``openid`` was granted)."""
        signer = self._keys.ring.require_signer()
        now = int(self._clock())
        access = signer.sign_compact(self.access_claims(grant, now), ACCESS_TOKEN_TYP)
        id_token = None
        if grant.user is not None and "openid" in grant.scopes:
            id_token = signer.sign_compact(self.id_claims(grant, now), ID_TOKEN_TYP)
        return IssuedTokens(
            access, self._settings.access_token_ttl, grant.scope, id_token, grant.refresh_token
        )

    def access_claims(self, grant: Grant, now: int) -> dict[str, Any]:
        """RFC 9068 §2.2 claims; ``sub`` is the client id for a client's own token.

        Built on every token request: each model attribute is read once (they are
        SQLAlchemy descriptors, not plain attributes).
        """
        settings, client, user = self._settings, grant.client, grant.user
        client_id = client.client_id
        claims: dict[str, Any] = {
            "iss": settings.url,
            "sub": user.id if user is not None else client_id,
            "aud": client.audience or settings.default_audience,
            "exp": now + settings.access_token_ttl,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
            "client_id": client_id,
            "scope": grant.scope,
        }
        if user is not None:
            claims["auth_time"] = grant.auth_time or now
            claims["roles"] = list(user.roles)
            claims["email"] = user.email
            _add_names(claims, user)
        if grant.session_id is not None:
            # OIDC's session id: lets the issuer end these access tokens with the family.
            claims["sid"] = grant.session_id
        return claims

    def id_claims(self, grant: Grant, now: int) -> dict[str, Any]:
        """OpenID Connect Core §2: ``aud`` is the client; profile claims follow the scopes."""
        user = _require_user(grant)
        claims: dict[str, Any] = {
            "iss": self._settings.url,
            "sub": user.id,
            "aud": grant.client.client_id,
            "exp": now + self._settings.id_token_ttl,
            "iat": now,
            "auth_time": grant.auth_time or now,
        }
        claims.update(profile_claims(user, grant.scopes))
        return claims


def profile_claims(user: User, scopes: Sequence[str]) -> dict[str, Any]:
    """Claims released by the ``email``, ``profile`` and ``roles`` scopes (OIDC Core §5.4)."""
    claims: dict[str, Any] = {}
    if "email" in scopes:
        claims["email"] = user.email
    if "profile" in scopes:
        _add_names(claims, user)
    if "roles" in scopes:
        claims["roles"] = list(user.roles)
    return claims


def _add_names(claims: dict[str, Any], user: User) -> None:
    """``given_name`` and ``family_name`` (OIDC Core §5.1), when the user has them."""
    given_name, family_name = user.given_name, user.family_name
    if given_name is not None:
        claims["given_name"] = given_name
    if family_name is not None:
        claims["family_name"] = family_name


def _require_user(grant: Grant) -> User:
    if grant.user is None:
        raise ValueError("an ID token needs a user")
    return grant.user
