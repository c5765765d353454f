"""Strict base64url (RFC 7515 §2, RFC 4648 §5) and strict JSON (RFC 8259) decoding."""

from __future__ import annotations

import binascii
import json
import re
from typing import Any

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")

# Characters allowed last in a segment whose length is 2 or 3 modulo 4: the bits they
# carry beyond the last whole byte must be zero, or two strings would decode to the
# same bytes (RFC 4648 §3.5, canonical encoding).
_CANONICAL_LAST = {
    2: frozenset(_ALPHABET[::16]),
    3: frozenset(_ALPHABET[::4]),
}


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded, canonical base64url; raise ``ValueError`` on anything else.

    The caller guarantees ``segment`` holds only base64url characters, or calls
    :func:`b64url_decode_checked`.
    """
    remainder = len(segment) % 4
    if remainder:
        if remainder == 1 or segment[-1] not in _CANONICAL_LAST[remainder]:
            raise ValueError("not canonical base64url")
        segment += "==="[remainder - 1 :]
    return binascii.a2b_base64(segment.encode("ascii").translate(_TO_STANDARD), strict_mode=True)


def b64url_decode_checked(segment: object) -> bytes:
    """Like :func:`b64url_decode` for an untrusted value (a JWK member, RFC 7518 §6)."""
    if not isinstance(segment, str) or not segment or not _B64URL.fullmatch(segment):
        raise ValueError("not base64url")
    try:
        return b64url_decode(segment)
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_no_constant)
_SCAN_ONCE = _DECODER.scan_once  # type: ignore[attr-defined]


def json_object(data: bytes) -> dict[str, Any] | None:
    """Parse UTF-8 JSON text that must be an object; ``None`` if it is anything else.

    Duplicate member names (RFC 7515 §5.2 lets us refuse them) and the non-standard
    ``NaN``/``Infinity`` literals are refused.
    """
    try:
        text = data.decode("utf-8")
        if text[:1] == "{":  # the usual compact text, without the decoder's wrapper
            value, end = _SCAN_ONCE(text, 0)
            if end == len(text):
                return value  # type: ignore[no-any-return]
        value = _DECODER.decode(text)
    except (ValueError, RecursionError, StopIteration):
        return None
    return value if isinstance(value, dict) else None
