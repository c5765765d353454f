"""The ceiling of the HTTP stack for scripts/bench.py: a bare Starlette app on uvicorn.

    python scripts/bench_bare.py --port 8123

Served as ``issuer serve`` serves the issuer: one uvicorn worker, ``log_config=None``
under the same root logging, one access-log line per request (uvicorn's here, the
issuer's own there). The difference between an issuer endpoint and this one is the
issuer's own work. ``GET /bare`` answers a small JSON object; ``POST /bare`` reads a
form body first, as the token endpoint does.
"""

from __future__ import annotations

import argparse
import logging
import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BODY = b'{"status":"ok"}'


async def bare_get(request: Request) -> Response:
    return Response(_BODY, media_type="application/json")


async def bare_post(request: Request) -> Response:
    await request.body()
    return Response(_BODY, media_type="application/json")


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/bare", bare_get, methods=["GET"]),
            Route("/bare", bare_post, methods=["POST"]),
            Route("/healthz", bare_get, methods=["GET"]),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The same logging as issuer.cli._configure_logging at the default level.
    logging.basicConfig(
        level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    uvicorn.run(create_app(), host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
