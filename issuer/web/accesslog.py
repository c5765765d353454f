"""One log line per request: method, path, status, duration and client address.

The query string is left out on purpose: a client that wrongly puts a secret or a token
in the URL must not get it written to the log. Bodies and headers are never logged.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("issuer.access")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            client = scope.get("client")
            logger.info(
                '%s "%s %s" %d %.1fms',
                client[0] if client else "-", scope["method"], printable(scope["path"]),
                status["code"], (time.perf_counter() - started) * 1000,
            )


def printable(text: str, limit: int = 200) -> str:
    """``text`` with control and non-ASCII characters escaped, and cut at ``limit``: a
    path is chosen by the client, and a raw newline in it would forge log lines."""
    escaped = text.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return escaped if len(escaped) <= limit else escaped[:limit] + "..."
