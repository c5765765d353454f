"""Client authentication at the token endpoint (RFC 6749 §2.3, OIDC Core §9).

Supported: ``client_secret_basic``, ``client_secret_post``, and ``none`` for public
clients, which present only their ``client_id``. A request may use one method only.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from starlette.requests import Request

from ..clients import secret_matches
from ..errors import InvalidClient, InvalidRequest
from ..models import Client
from ..service import Issuer

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_FAILED = "client authentication failed"


async def authenticate_client(issuer: Issuer, request: Request, params: dict[str, str]) -> Client:
    """The client whose credentials the request carries; it may be disabled."""
    client_id, secret = _presented_credentials(request, params)
    client = await issuer.clients.get(client_id)
    if client is None:
        raise InvalidClient(_FAILED)
    if client.public:
        if secret is not None:
            raise InvalidClient(_FAILED)
    elif secret is None or not secret_matches(client, secret):
        raise InvalidClient(_FAILED)
    return client  # possibly disabled: each endpoint decides what that means


def _presented_credentials(request: Request, params: dict[str, str]) -> tuple[str, str | None]:
    headers = request.headers.getlist("authorization")
    if len(headers) > 1:
        raise InvalidRequest("send one Authorization header", field="authorization")
    header = headers[0] if headers else None
    if header is None:
        client_id = params.get("client_id")
        if client_id is None:
            raise InvalidClient("client authentication is required")
        return client_id, params.get("client_secret")

    if "client_secret" in params:
        raise InvalidRequest("use one client authentication method only", field="client_secret")
    client_id, secret = _basic_credentials(header)
    if params.get("client_id", client_id) != client_id:
        raise InvalidRequest("client_id differs from the authenticated client", field="client_id")
    return client_id, secret


def _basic_credentials(header: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: both parts are form-urlencoded before being joined by a colon."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise InvalidClient("the Authorization header must use the Basic scheme")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters in the header
        raise InvalidClient("the Basic credentials are not valid base64") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise InvalidClient("the Basic credentials need a client id and a secret")
    try:
        return (
            unquote(client_id.replace("+", " "), errors="strict"),
            unquote(secret.replace("+", " "), errors="strict"),
        )
    except UnicodeDecodeError:
        raise InvalidClient("the Basic credentials are not valid UTF-8") from None
