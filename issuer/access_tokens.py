"""Revocation (RFC 7009) and introspection (RFC 7662) of this issuer's access tokens.

A revoked access token's ``jti`` is kept until the token's ``exp``; introspection and
``/userinfo`` honour it. Resource servers that verify offline cannot see it: that is the
price of offline verification, and why access tokens live minutes, not hours.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy.exc import IntegrityError

from keys.store import PUBLISHED_STATES, SigningKey

from .errors import InvalidToken
from .models import Client, RefreshFamily, RevokedAccessToken, User
from .own_tokens import verify_access_token
from .service import Issuer


async def revoke_access_token(issuer: Issuer, token: str, client: Client) -> None:
    """Record the token's ``jti`` as revoked when it is ``client``'s own live token."""
    try:
        claims = verify_access_token(issuer, token)
    except InvalidToken:
        return
    if claims.get("client_id") != client.client_id or not isinstance(claims.get("jti"), str):
        return
    try:
        async with issuer.sessions() as session, session.begin():
            session.add(RevokedAccessToken(
                jti=claims["jti"][:64], client_id=client.client_id,
                expires_at=int(claims["exp"]), revoked_at=int(issuer.clock()),
            ))
    except IntegrityError:
        pass  # revoked already


async def live_access_claims(issuer: Issuer, token: str) -> dict[str, Any]:
    """The claims of a token that is still good now: signature, ``exp``, not revoked, and
    its client (and user, for a user's token) still enabled; else InvalidToken."""
    claims = verify_access_token(issuer, token)
    jti = claims.get("jti")
    if not isinstance(jti, str):
        raise InvalidToken("the token has no jti")
    sid = claims.get("sid")
    async with issuer.reads() as session:
        revoked = await session.get(RevokedAccessToken, jti[:64])
        user = await session.get(User, str(claims["sub"])) if "auth_time" in claims else None
        family = await session.get(RefreshFamily, sid) if isinstance(sid, str) else None
        key = await session.get(SigningKey, _kid(token))
    client = await issuer.clients.get(str(claims.get("client_id")))
    if key is None or key.state not in PUBLISHED_STATES:
        # The database knows of a key revocation before this process's next reload does.
        raise InvalidToken("the token's signing key has been revoked")
    if sid is not None and (family is None or family.revoked_at is not None):
        # RFC 7009 §2.1: revoking the refresh token ends the access tokens of its grant.
        raise InvalidToken("the token's session has ended")
    if revoked is not None:
        raise InvalidToken("the token has been revoked")
    if client is None or client.disabled:
        raise InvalidToken("the token's client no longer exists or is disabled")
    if "auth_time" in claims and (user is None or user.disabled):
        raise InvalidToken("the token's user no longer exists or is disabled")
    return claims


async def introspect_access_token(issuer: Issuer, token: str, client: Client) -> dict[str, Any]:
    try:
        claims = await live_access_claims(issuer, token)
    except InvalidToken:
        return {"active": False}
    if claims.get("client_id") != client.client_id:
        return {"active": False}
    fields = ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti")
    return {"active": True, "token_type": "Bearer",
            **{name: claims[name] for name in fields if name in claims}}


def _kid(token: str) -> str:
    """The ``kid`` of a token whose signature was already verified against that key."""
    segment = token.split(".", 1)[0]
    header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return str(header.get("kid", ""))[:64]
