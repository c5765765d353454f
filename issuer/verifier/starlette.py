"""Bearer-token protection for Starlette endpoints (RFC 6750).

    verifier = TokenVerifier(issuer="https://id.example", audience="orders-api")

    @requires_token(verifier, scopes=["orders:read"])
    async def list_orders(request):
        token = request.state.token          # a VerifiedToken
        return JSONResponse({"sub": token.subject})

Answers, per RFC 6750 §3 and §3.1:

- no ``Authorization: Bearer`` credentials: 401, ``WWW-Authenticate: Bearer``;
- a malformed ``Authorization`` header: 400, ``error="invalid_request"``;
- a refused token: 401, ``error="invalid_token"``, plus ``Token-Expired: true`` when its
  only fault is ``exp``;
- missing scopes or roles: 403, ``error="insufficient_scope"`` and ``scope="..."``;
- the issuer's key set cannot be fetched: 503 with ``Retry-After`` (the token may be
  fine, so it is not blamed).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._errors import INSUFFICIENT_SCOPE, TEMPORARILY_UNAVAILABLE, TOKEN_EXPIRED, TokenError
from ._verifier import TokenVerifier, VerifiedToken

__all__ = ["bearer_token", "requires_token", "token_error_response"]

Endpoint = Callable[[Request], Awaitable[Response] | Response]

_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 §2.1
_UNQUOTABLE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")  # RFC 6750 §3
_RETRY_AFTER_SECONDS = "30"


class MalformedAuthorization(ValueError):
    """The ``Authorization`` header is present but not ``Bearer <token>``."""


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request (RFC 6750 §2.1), or ``None`` if it has none.

    Credentials of another scheme count as none. Raises :class:`MalformedAuthorization`
    for several ``Authorization`` headers or a ``Bearer`` one without exactly one token.
    """
    values = request.headers.getlist("authorization")
    if not values:
        return None
    if len(values) > 1:
        raise MalformedAuthorization("more than one Authorization header")
    scheme, _, credentials = values[0].partition(" ")
    if scheme.lower() != "bearer":
        return None
    if not _B64TOKEN.fullmatch(credentials):
        raise MalformedAuthorization("the Authorization header is not Bearer and one token")
    return credentials


def requires_token(
    verifier: TokenVerifier,
    *,
    scopes: Iterable[str] = (),
    roles: Iterable[str] = (),
) -> Callable[[Endpoint], Callable[[Request], Awaitable[Response]]]:
    """Decorate an endpoint function so it runs only for a valid bearer token.

    The token must grant every scope in ``scopes`` and every role in ``roles``. The
    endpoint finds the :class:`VerifiedToken` at ``request.state.token``.
    """
    scopes, roles = tuple(scopes), tuple(roles)

    def decorate(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def protected(request: Request) -> Response:
            outcome = await _authenticate(request, verifier, scopes, roles)
            if isinstance(outcome, Response):
                return outcome
            request.state.token = outcome
            if inspect.iscoroutinefunction(endpoint):
                return await endpoint(request)  # type: ignore[no-any-return]
            return await run_in_threadpool(endpoint, request)  # type: ignore[arg-type]

        return protected

    return decorate


async def _authenticate(
    request: Request, verifier: TokenVerifier, scopes: tuple[str, ...], roles: tuple[str, ...]
) -> VerifiedToken | Response:
    try:
        token = bearer_token(request)
    except MalformedAuthorization as exc:
        return _challenge(400, "invalid_request", str(exc))
    if token is None:
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    try:
        return await verifier.verify(token, required_scopes=scopes, required_roles=roles)
    except TokenError as exc:
        return token_error_response(exc, required_scopes=scopes)


def token_error_response(error: TokenError, *, required_scopes: Iterable[str] = ()) -> Response:
    """The RFC 6750 §3 answer to a :class:`TokenError`."""
    if error.code == TEMPORARILY_UNAVAILABLE:
        body = {"error": TEMPORARILY_UNAVAILABLE, "error_description": error.message}
        return JSONResponse(body, 503, headers={"Retry-After": _RETRY_AFTER_SECONDS})
    if error.code == INSUFFICIENT_SCOPE:
        return _challenge(403, INSUFFICIENT_SCOPE, error.message, " ".join(required_scopes))
    response = _challenge(401, "invalid_token", error.message)
    if error.code == TOKEN_EXPIRED:
        response.headers["Token-Expired"] = "true"
    return response


def _challenge(status: int, error: str, description: str, scope: str = "") -> Response:
    description = _UNQUOTABLE.sub("?", description)
    challenge = f'Bearer error="{error}", error_description="{description}"'
    if scope:
        challenge += f', scope="{_UNQUOTABLE.sub("?", scope)}"'
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status, headers={"WWW-Authenticate": challenge})
