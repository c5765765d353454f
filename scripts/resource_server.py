"""An example resource server protected by the issuer's access tokens.

    python scripts/resource_server.py --issuer http://127.0.0.1:8000 --audience demo-api

- ``GET /whoami``: any valid token; answers its claims as JSON.
- ``GET /admin``: the token must carry the role ``admin``.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from issuer.verifier import RemoteKeySet, TokenVerifier
from issuer.verifier.starlette import requires_token


def create_app(
    issuer: str,
    audience: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] | None = None,
) -> Starlette:
    """Build the app; ``transport`` and ``clock`` are for tests."""
    timing: dict[str, Any] = {} if clock is None else {"clock": clock}
    key_set = RemoteKeySet.from_issuer(issuer, transport=transport, **timing)
    verifier = TokenVerifier(issuer=issuer, audience=audience, key_set=key_set, **timing)

    @requires_token(verifier)
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse(dict(request.state.token.claims))

    @requires_token(verifier, roles=["admin"])
    async def admin(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.state.token.subject, "admin": True})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with key_set:
            yield

    routes = [Route("/whoami", whoami), Route("/admin", admin)]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description="Example resource server.")
    parser.add_argument("--issuer", required=True, help="issuer URL, exactly as in iss")
    parser.add_argument("--audience", required=True, help="the aud this server accepts")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()

    import uvicorn

    uvicorn.run(create_app(args.issuer, args.audience), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
