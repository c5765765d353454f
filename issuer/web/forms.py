"""Reading request bodies strictly: size, content type, encoding, repeated parameters.

RFC 6749 §3.2 wants ``application/x-www-form-urlencoded`` bodies whose parameters appear
at most once, and treats a parameter sent without a value as omitted.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from ..errors import InvalidRequest, RequestTooLarge

FORM_TYPE = "application/x-www-form-urlencoded"
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_MAX_FIELDS = 50


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused past ``limit`` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RequestTooLarge(f"the body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def charset(request: Request) -> str | None:
    for parameter in request.headers.get("content-type", "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """Form parameters of a POST body, each at most once, empty values dropped.

    RFC 6749 Appendix B: the parameters are UTF-8; another declared charset is refused
    rather than silently misread.
    """
    if media_type(request) != FORM_TYPE:
        raise InvalidRequest(f"the body must be {FORM_TYPE}", field="content-type")
    if charset(request) not in (None, "utf-8", "utf8"):
        raise InvalidRequest("the body must be UTF-8", field="content-type")
    body = await read_body(request, limit)
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise InvalidRequest("the body is not percent-encoded UTF-8") from None
    except ValueError:
        raise InvalidRequest(f"the body has more than {_MAX_FIELDS} parameters") from None
    return _single_valued(pairs)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """A JSON object body; anything else is ``invalid_request``."""
    if media_type(request) != "application/json":
        raise InvalidRequest("the body must be application/json", field="content-type")
    if charset(request) not in (None, "utf-8", "utf8"):
        raise InvalidRequest("the body must be UTF-8", field="content-type")
    body = await read_body(request, limit)
    try:
        document = json.loads(body.decode("utf-8"))
        # A lone surrogate escape (\ud800) decodes to a str that cannot be encoded again.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidRequest("the body must be a JSON object")
    return document


def _single_valued(pairs: list[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            named = name if _PARAMETER_NAME.fullmatch(name) else "a parameter"
            raise InvalidRequest(f"{named} must not be repeated", field=named)
        seen.add(name)
        if value != "":
            params[name] = value
    return params
