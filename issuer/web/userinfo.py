"""``GET /userinfo`` (OIDC Core §5.3) with a bearer access token (RFC 6750 §2.1)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..access_tokens import live_access_claims
from ..errors import InsufficientScope, InvalidRequest, InvalidToken, ProtocolError
from ..service import Issuer
from ..tokens import profile_claims
from ..users import get_user
from .responses import bearer_error, json_response


async def userinfo(request: Request) -> Response:
    issuer: Issuer = request.app.state.issuer
    try:
        token = bearer_token(request)
        if token is None:
            return bearer_error(None)
        claims = await live_access_claims(issuer, token)
        scopes = str(claims.get("scope", "")).split()
        if "openid" not in scopes:
            raise InsufficientScope("the token lacks the openid scope", field="openid")
        async with issuer.reads() as session:
            user = await get_user(session, str(claims["sub"]))
        if user is None or user.disabled:
            raise InvalidToken("the token's user no longer exists or is disabled")
    except ProtocolError as error:
        return bearer_error(error)
    body = {"sub": user.id, **profile_claims(user, scopes)}
    return json_response(body, headers={"Cache-Control": "no-store"})


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None when there is no header."""
    headers = request.headers.getlist("authorization")
    if len(headers) > 1:
        raise InvalidRequest("send one Authorization header")
    if not headers:
        return None
    header = headers[0]
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or " " in token.strip():
        raise InvalidRequest("the Authorization header must be 'Bearer <token>'")
    return token.strip()
