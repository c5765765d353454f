"""The demo user and client that development mode creates on an empty database."""

from __future__ import annotations

import secrets
import shlex

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .clients import create_client, list_clients
from .passwords import Passwords
from .settings import Settings
from .users import count_users, create_user

DEMO_EMAIL = "demo@example.com"
DEMO_CLIENT = "demo-client"
DEMO_SCOPES = ("openid", "profile", "email", "roles", "api")


async def create_demo_accounts(
    sessions: async_sessionmaker[AsyncSession], passwords: Passwords, settings: Settings, now: int
) -> str | None:
    """Create the demo accounts when there are no users and no clients yet.

    Returns the text to show once (credentials and a copy-paste example), or None when
    the database already had accounts.
    """
    password = secrets.token_urlsafe(12)
    async with sessions() as session, session.begin():
        if await count_users(session) or await list_clients(session):
            return None
        await create_user(
            session, passwords, DEMO_EMAIL, password, now=now,
            roles=["admin"], given_name="Demo", family_name="User",
        )
        _, secret = await create_client(
            session, DEMO_CLIENT, now=now,
            grants=["password", "client_credentials", "refresh_token"], scopes=DEMO_SCOPES,
        )
        await create_client(
            session, settings.json_api_client, now=now, grants=["password", "refresh_token"],
            scopes=DEMO_SCOPES, public=True,
        )
    return demo_instructions(settings, password, secret or "")


def demo_instructions(settings: Settings, password: str, secret: str) -> str:
    q = shlex.quote
    token_url = f"{settings.url}/token"
    return f"""
========================================================================
Demo accounts created. These credentials are shown only this once:
  user    {DEMO_EMAIL}   password {password}
  client  {DEMO_CLIENT}   secret {secret}

Get a token (password grant) and verify it offline against the JWKS:
  TOKEN=$(curl -s -u {q(DEMO_CLIENT + ":" + secret)} \\
      -d grant_type=password -d username={DEMO_EMAIL} -d password={q(password)} \\
      -d scope='openid profile email roles api' {token_url} \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  .venv/bin/python -m issuer.verifier --issuer {settings.url} \\
      --audience {settings.default_audience} "$TOKEN"
========================================================================
"""
