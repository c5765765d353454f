"""Protocol responses: RFC 6749 §5.1/§5.2 JSON and RFC 6750 §3 ``WWW-Authenticate``."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ..errors import InsufficientScope, InvalidClient, InvalidToken, ProtocolError

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
BEARER_CHALLENGE = 'Bearer realm="issuer"'



def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    content = json.dumps(body, separators=(",", ":")).encode()
    return Response(content, status, headers=headers, media_type="application/json")


def token_error(error: ProtocolError) -> Response:
    """RFC 6749 §5.2: ``error`` and ``error_description``; 401 + Basic for client auth."""
    headers = dict(NO_STORE)
    if isinstance(error, InvalidClient):
        headers["WWW-Authenticate"] = 'Basic realm="issuer", charset="UTF-8"'
    return json_response(_error_body(error), error.status, headers)


def bearer_error(error: ProtocolError | None) -> Response:
    """RFC 6750 §3: no error code when no token was sent, else the code and a description."""
    if error is None:
        return Response(status_code=401, headers={"WWW-Authenticate": BEARER_CHALLENGE})
    challenge = f'Bearer realm="issuer", error="{error.code}", ' \
        f'error_description="{_quoted(error.message)}"'
    if isinstance(error, InsufficientScope) and error.field:
        challenge += f', scope="{_quoted(error.field)}"'
    status = error.status if isinstance(error, InvalidToken | InsufficientScope) else 400
    return json_response(_error_body(error), status, {"WWW-Authenticate": challenge})


def _error_body(error: ProtocolError) -> dict[str, str]:
    """RFC 6749 §5.2 allows only printable ASCII but ``"`` and ``\\`` in a description."""
    return {"error": error.code, "error_description": _quoted(error.message)}


def _quoted(text: str) -> str:
    return "".join(ch for ch in text if ch not in '"\\' and 0x20 <= ord(ch) < 0x7F)
