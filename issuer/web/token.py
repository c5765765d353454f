"""``POST /token``: the RFC 6749 token endpoint."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from keys import NoActiveKey

from ..errors import (
    InvalidGrant,
    InvalidRequest,
    ProtocolError,
    TemporarilyUnavailable,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from ..grants import TokenRequest, client_credentials_grant, password_grant, refresh_token_grant
from ..service import Issuer
from ..tokens import Grant
from .clientauth import authenticate_client
from .forms import read_form
from .responses import NO_STORE, json_response, token_error

logger = logging.getLogger("issuer.token")

GrantHandler = Callable[[Issuer, TokenRequest], Awaitable[Grant]]

GRANT_HANDLERS: dict[str, GrantHandler] = {
    "password": password_grant,
    "client_credentials": client_credentials_grant,
    "refresh_token": refresh_token_grant,
}


async def token_endpoint(request: Request) -> Response:
    issuer: Issuer = request.app.state.issuer
    try:
        params = await read_form(request, issuer.settings.max_body_bytes)
        grant = await _run_grant(issuer, request, params)
        tokens = issuer.minter.issue(grant)
    except ProtocolError as error:
        return token_error(error)
    except NoActiveKey:
        logger.error("token refused: no signing key is active")
        return token_error(TemporarilyUnavailable("no signing key is active; try again later"))
    return json_response(tokens.as_response(), headers=NO_STORE)


async def _run_grant(issuer: Issuer, request: Request, params: dict[str, str]) -> Grant:
    grant_type = params.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is required", field="grant_type")
    handler = GRANT_HANDLERS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantType("this grant_type is not supported", field="grant_type")

    client = await authenticate_client(issuer, request, params)
    if client.disabled:
        # Its credentials are right, so say why: the grants it holds are no longer good.
        raise InvalidGrant("the client is disabled")
    if grant_type not in client.grants:
        raise UnauthorizedClient(f"this client may not use the {grant_type} grant")
    ip = request.client.host if request.client is not None else None
    return await handler(issuer, TokenRequest(client, params, ip))


__all__ = ["GRANT_HANDLERS", "token_endpoint"]
