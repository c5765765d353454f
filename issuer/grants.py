"""The grants of the token endpoint (RFC 6749 §4.3, §4.4, §6).

Each grant takes a :class:`TokenRequest` (the authenticated client, the parameters, the
caller's address) and decides a :class:`~issuer.tokens.Grant`; it never signs anything.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col

from .errors import InvalidGrant, InvalidRequest
from .models import Client, User
from .scopes import grant_scopes, parse_scope
from .service import Issuer
from .tokens import Grant
from .users import MAX_PASSWORD_CHARS, find_user_by_email

security_log = logging.getLogger("issuer.security")

LOGIN_FAILED = "the email or password is wrong, or the account is disabled"


@dataclass(frozen=True)
class TokenRequest:
    client: Client
    params: Mapping[str, str]
    ip: str | None = None

    def required(self, name: str) -> str:
        value = self.params.get(name)
        if value is None:
            raise InvalidRequest(f"{name} is required", field=name)
        return value


async def password_grant(issuer: Issuer, request: TokenRequest) -> Grant:
    """RFC 6749 §4.3: the resource owner's email and password.

    A refresh token (a new family) comes with it when the client may use refresh tokens.
    """
    scopes = grant_scopes(request.client, parse_scope(request.params.get("scope")), user=True)
    user = await authenticate_user(
        issuer, request.required("username"), request.required("password"), request.client
    )
    auth_time = int(issuer.clock())
    refresh_token = family_id = None
    if "refresh_token" in request.client.grants:
        refresh_token, family_id = await issuer.refresh.start_family(
            user, request.client, scopes, auth_time, request.ip
        )
    return Grant(request.client, scopes, user, auth_time, refresh_token, family_id)


async def authenticate_user(issuer: Issuer, email: str, password: str, client: Client) -> User:
    """Check a password login; rehash the password when the argon2 parameters changed.

    Unknown email, wrong password and disabled account give the same error after the same
    argon2 work, so the answer reveals nothing about which accounts exist.
    """
    if len(password) > MAX_PASSWORD_CHARS or len(email) > 320:
        await issuer.passwords.verify(None, password[:MAX_PASSWORD_CHARS])
        raise InvalidGrant(LOGIN_FAILED)

    # No database connection is held while argon2 runs: a login storm must not take the
    # connections (or SQLite's write lock) that every other request needs.
    async with issuer.reads() as session:
        user = await find_user_by_email(session, email)
    stored = user.password_hash if user is not None else None
    matches = await issuer.passwords.verify(stored, password)
    if user is None or not matches or user.disabled:
        security_log.info("login failed: client_id=%s", client.client_id)
        raise InvalidGrant(LOGIN_FAILED)
    if issuer.passwords.needs_rehash(user.password_hash):
        await _rehash(issuer, user, password)
    return user


async def _rehash(issuer: Issuer, user: User, password: str) -> None:
    new_hash = await issuer.passwords.hash_async(password)
    async with issuer.sessions() as session, session.begin():
        await session.execute(
            update(User).where(col(User.id) == user.id).values(password_hash=new_hash)
        )
    user.password_hash = new_hash


async def client_credentials_grant(issuer: Issuer, request: TokenRequest) -> Grant:
    """RFC 6749 §4.4: the client acting on its own behalf; ``sub`` is the client id."""
    requested = parse_scope(request.params.get("scope"))
    return Grant(request.client, grant_scopes(request.client, requested, user=False))


async def refresh_token_grant(issuer: Issuer, request: TokenRequest) -> Grant:
    """RFC 6749 §6: rotate the refresh token; roles and names are read again from the user."""
    rotation = await issuer.refresh.rotate(
        request.required("refresh_token"), request.client,
        parse_scope(request.params.get("scope")), request.ip,
    )
    return Grant(
        request.client, rotation.scopes, rotation.user, rotation.auth_time,
        rotation.refresh_token, rotation.family_id,
    )
