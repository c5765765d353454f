"""Routes, lifespan and the last-resort error handler of the issuer's web service."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..service import Issuer
from . import classic
from .accesslog import AccessLog, printable
from .responses import json_response
from .revocation import introspect, revoke
from .token import token_endpoint
from .userinfo import userinfo
from .wellknown import jwks, openid_configuration

logger = logging.getLogger("issuer")

CLASSIC_PREFIX = "/api/auth/"


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the database answers and a signing key is active."""
    issuer: Issuer = request.app.state.issuer
    checks = {
        "database": await issuer.database_ready(),
        "signing_key": issuer.keys.ring.signer is not None,
    }
    ready = all(checks.values())
    return json_response({"status": "ready" if ready else "not_ready", "checks": checks},
                         200 if ready else 503)


async def http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405) in the protocol's JSON shape rather than plain text."""
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    return _error(request, status, "invalid_request", str(getattr(exc, "detail", "")), headers)


async def database_busy(request: Request, exc: Exception) -> Response:
    """The database is unavailable, overloaded or locked: 503, as the client may retry."""
    logger.warning("database busy on %s %s: %s", request.method, printable(request.url.path),
                   type(exc).__name__)
    return _error(request, 503, "temporarily_unavailable",
                  "the database is unavailable or busy; try again shortly",
                  {"Retry-After": "1", "Cache-Control": "no-store"})


def _error(
    request: Request, status: int, code: str, description: str, headers: dict[str, str]
) -> Response:
    """RFC 6749 §5.2 JSON, or ``{"message"}`` under the JSON API's own prefix."""
    if request.url.path.startswith(CLASSIC_PREFIX):
        return json_response({"message": description}, status, headers)
    return json_response({"error": code, "error_description": description}, status, headers)


async def server_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, printable(request.url.path),
                 exc_info=exc)
    return _error(request, 500, "server_error", "the server failed; see its log", {})


def create_app(issuer: Issuer, *, manage_lifecycle: bool = True) -> Starlette:
    """The ASGI app; with ``manage_lifecycle`` its lifespan starts and stops ``issuer``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_lifecycle:
            await issuer.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                await issuer.stop()

    routes = [
        Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", openid_configuration, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/token", token_endpoint, methods=["POST"]),
        Route("/revoke", revoke, methods=["POST"]),
        Route("/introspect", introspect, methods=["POST"]),
        Route("/userinfo", userinfo, methods=["GET", "POST"]),
        Route(f"{CLASSIC_PREFIX}login", classic.login, methods=["POST"]),
        Route(f"{CLASSIC_PREFIX}refresh-token", classic.refresh_token, methods=["POST"]),
        Route(f"{CLASSIC_PREFIX}revoke-token", classic.revoke_token, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    handlers = {
        HTTPException: http_error,
        SQLAlchemyTimeout: database_busy,
        OperationalError: database_busy,
        Exception: server_error,
    }
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers=handlers,  # type: ignore[arg-type]
        middleware=[Middleware(AccessLog)],
    )
    app.router.redirect_slashes = False  # a redirect would make clients re-send credentials
    app.state.issuer = issuer
    return app
