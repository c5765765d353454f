"""The grants of the token endpoint (RFC 6749 §4.3, §4.4).

Each grant takes the authenticated client and the request parameters and decides a
:class:`~issuer.tokens.Grant`; it never signs anything itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from .errors import InvalidGrant, InvalidRequest
from .models import Client
from .scopes import grant_scopes, parse_scope
from .service import Issuer
from .tokens import Grant
from .users import MAX_PASSWORD_CHARS, find_user_by_email

security_log = logging.getLogger("issuer.security")

_LOGIN_FAILED = "the email or password is wrong, or the account is disabled"


async def password_grant(issuer: Issuer, client: Client, params: Mapping[str, str]) -> Grant:
    """RFC 6749 §4.3: the resource owner's email and password.

    Unknown email, wrong password and disabled account give the same error after the same
    argon2 work, so the answer reveals nothing about which accounts exist.
    """
    username = _required(params, "username")
    password = _required(params, "password")
    requested = parse_scope(params.get("scope"))
    scopes = grant_scopes(client, requested, user=True)
    if len(password) > MAX_PASSWORD_CHARS or len(username) > 320:
        await issuer.passwords.verify(None, password[:MAX_PASSWORD_CHARS])
        raise InvalidGrant(_LOGIN_FAILED)

    async with issuer.sessions() as session:
        user = await find_user_by_email(session, username)
        stored = user.password_hash if user is not None else None
        matches = await issuer.passwords.verify(stored, password)
        if user is None or not matches or user.disabled:
            security_log.info("login failed: client_id=%s", client.client_id)
            raise InvalidGrant(_LOGIN_FAILED)
        if issuer.passwords.needs_rehash(user.password_hash):
            user.password_hash = await issuer.passwords.hash_async(password)
            await session.commit()

    return Grant(client=client, scopes=scopes, user=user, auth_time=int(issuer.clock()))


async def client_credentials_grant(
    issuer: Issuer, client: Client, params: Mapping[str, str]
) -> Grant:
    """RFC 6749 §4.4: the client acting on its own behalf; ``sub`` is the client id."""
    requested = parse_scope(params.get("scope"))
    return Grant(client=client, scopes=grant_scopes(client, requested, user=False))


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise InvalidRequest(f"{name} is required", field=name)
    return value
