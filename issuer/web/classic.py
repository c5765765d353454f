"""A JSON API for apps written against classic ASP.NET-style auth services.

``/api/auth/login``, ``/api/auth/refresh-token`` and ``/api/auth/revoke-token`` take and
answer camelCase JSON, and run the same grants as ``/token`` on behalf of one
first-party client (``ISSUER_JSON_API_CLIENT``). Errors are ``{"message": ...}``.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from keys import NoActiveKey

from ..access_tokens import live_access_claims
from ..errors import (
    InsufficientScope,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidToken,
    IssuerError,
    ProtocolError,
    TemporarilyUnavailable,
)
from ..grants import TokenRequest, password_grant, refresh_token_grant
from ..models import Client
from ..service import Issuer
from ..tokens import Grant
from .forms import read_json
from .responses import BEARER_CHALLENGE, NO_STORE, bearer_error, json_response
from .userinfo import bearer_token


async def login(request: Request) -> Response:
    return await _grant(request, password_grant, {"email": "username", "password": "password"})


async def refresh_token(request: Request) -> Response:
    return await _grant(request, refresh_token_grant, {"refreshToken": "refresh_token"})


async def revoke_token(request: Request) -> Response:
    """Revoke a refresh token's family; the bearer must be the token's own user."""
    issuer: Issuer = request.app.state.issuer
    try:
        bearer = bearer_token(request)
        if bearer is None:
            return _message(InvalidToken("a bearer access token is required"), BEARER_CHALLENGE)
        claims = await live_access_claims(issuer, bearer)
    except ProtocolError as error:
        return _message(error, bearer_error(error).headers.get("www-authenticate"))
    try:
        body = await read_json(request, issuer.settings.max_body_bytes)
        token = _string(body, "refreshToken")
        if not await issuer.refresh.revoke_for_user(token, str(claims["sub"]), _ip(request)):
            raise InsufficientScope("the refresh token is unknown or not yours")
    except IssuerError as error:
        return _message(error)
    return json_response({"message": "Token revoked"}, headers=NO_STORE)


async def _grant(request: Request, grant: Any, fields: dict[str, str]) -> Response:
    issuer: Issuer = request.app.state.issuer
    try:
        body = await read_json(request, issuer.settings.max_body_bytes)
        params = {param: _string(body, name) for name, param in fields.items()}
        client = await _api_client(issuer)
        decided: Grant = await grant(issuer, TokenRequest(client, params, _ip(request)))
        tokens = issuer.minter.issue(decided)
    except IssuerError as error:
        return _message(error)
    except NoActiveKey:
        return _message(TemporarilyUnavailable("no signing key is active; try again later"))
    return json_response(_session(decided, tokens.access_token, tokens.refresh_token,
                                  tokens.expires_in, issuer), headers=NO_STORE)


def _session(
    grant: Grant, access: str, refresh: str | None, expires_in: int, issuer: Issuer
) -> dict[str, Any]:
    user = grant.user
    expiration = time.gmtime(int(issuer.clock()) + expires_in)
    return {
        "accessToken": access,
        "refreshToken": refresh,
        "expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", expiration),
        "user": None if user is None else {
            "id": user.id, "email": user.email, "firstName": user.given_name,
            "lastName": user.family_name, "roles": list(user.roles),
        },
    }


async def _api_client(issuer: Issuer) -> Client:
    client = await issuer.clients.get(issuer.settings.json_api_client)
    if client is None or client.disabled:
        raise TemporarilyUnavailable(
            f"the JSON API needs an enabled client {issuer.settings.json_api_client!r}"
        )
    return client


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or value == "":
        raise InvalidRequest(f"{name} is required and must be a string", field=name)
    return value


def _ip(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def _message(error: IssuerError, challenge: str | None = None) -> Response:
    status = error.status if isinstance(error, ProtocolError) else 400
    if isinstance(error, InvalidGrant | InvalidClient):
        status = 400
    headers = dict(NO_STORE)
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    return json_response({"message": error.message}, status, headers)
