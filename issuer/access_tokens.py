"""Revocation (RFC 7009) and introspection (RFC 7662) of this issuer's access tokens.

A revoked access token's ``jti`` is kept until the token's ``exp``; introspection and
``/userinfo`` honour it. Resource servers that verify offline cannot see it: that is the
price of offline verification, and why access tokens live minutes, not hours.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from .errors import InvalidToken
from .models import Client, RevokedAccessToken
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


async def is_revoked(issuer: Issuer, jti: object) -> bool:
    if not isinstance(jti, str):
        return True
    async with issuer.sessions() as session:
        return await session.get(RevokedAccessToken, jti[:64]) is not None


async def introspect_access_token(issuer: Issuer, token: str, client: Client) -> dict[str, Any]:
    try:
        claims = verify_access_token(issuer, token)
    except InvalidToken:
        return {"active": False}
    if claims.get("client_id") != client.client_id or await is_revoked(issuer, claims.get("jti")):
        return {"active": False}
    fields = ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti")
    return {"active": True, "token_type": "Bearer",
            **{name: claims[name] for name in fields if name in claims}}
