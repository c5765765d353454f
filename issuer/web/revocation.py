"""``POST /revoke`` (RFC 7009) and ``POST /introspect`` (RFC 7662), client-authenticated."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..access_tokens import introspect_access_token, revoke_access_token
from ..errors import InvalidClient, InvalidRequest, ProtocolError
from ..service import Issuer
from .clientauth import authenticate_client
from .forms import read_form
from .responses import NO_STORE, json_response, token_error


async def revoke(request: Request) -> Response:
    """RFC 7009 §2.2: 200 whether or not the token was known, valid or this client's."""
    issuer: Issuer = request.app.state.issuer
    try:
        params = await read_form(request, issuer.settings.max_body_bytes)
        client = await authenticate_client(issuer, request, params)
        token = _token(params)
    except ProtocolError as error:
        return token_error(error)

    ip = request.client.host if request.client is not None else None
    if not await issuer.refresh.revoke(token, client, ip):
        await revoke_access_token(issuer, token, client)
    return Response(status_code=200, headers=NO_STORE)


async def introspect(request: Request) -> Response:
    """RFC 7662 §2.2: ``active`` false for anything not a live token of the caller."""
    issuer: Issuer = request.app.state.issuer
    try:
        params = await read_form(request, issuer.settings.max_body_bytes)
        client = await authenticate_client(issuer, request, params)
        if client.public or client.disabled:
            raise InvalidClient("introspection needs an enabled confidential client")
        token = _token(params)
    except ProtocolError as error:
        return token_error(error)

    body = await issuer.refresh.introspect(token, client)
    if body is None:
        body = await introspect_access_token(issuer, token, client)
    elif body["active"]:
        audience = client.audience or issuer.settings.default_audience
        body = {**body, "iss": issuer.settings.url, "aud": audience}
    return json_response(body, headers=NO_STORE)


def _token(params: dict[str, str]) -> str:
    token = params.get("token")
    if token is None:
        raise InvalidRequest("token is required", field="token")
    return token
