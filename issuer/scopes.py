"""Scope parsing and policy (RFC 6749 §3.3)."""

from __future__ import annotations

import re

from .errors import InvalidScope
from .models import Client

OPENID_SCOPES = ("openid", "profile", "email", "roles")
USER_ONLY_SCOPES = frozenset(OPENID_SCOPES)
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")  # RFC 6749 §3.3 scope-token


def parse_scope(text: str | None) -> tuple[str, ...] | None:
    """The scope tokens of a request, in order and without repeats; None when absent."""
    if text is None:
        return None
    tokens = text.split(" ")
    if any(not SCOPE_TOKEN.fullmatch(token) for token in tokens):
        raise InvalidScope("scope is not a space-separated list of scope tokens", field="scope")
    return tuple(dict.fromkeys(tokens))


def grant_scopes(
    client: Client, requested: tuple[str, ...] | None, *, user: bool
) -> tuple[str, ...]:
    """The scopes to grant: those requested, each allowed to the client.

    With no scope requested, the client gets all of its allowed scopes (the default
    that RFC 6749 §3.3 lets the server choose). Identity scopes need a user.
    """
    allowed = [s for s in client.scopes if user or s not in USER_ONLY_SCOPES]
    if requested is None:
        return tuple(allowed)
    for scope in requested:
        if not user and scope in USER_ONLY_SCOPES:
            raise InvalidScope(f"scope {scope!r} needs a user; this grant has none", field="scope")
        if scope not in allowed:
            named = f"scope {scope!r}" if len(scope) <= 40 else "a requested scope"
            raise InvalidScope(f"{named} is not allowed for this client", field="scope")
    return requested
