"""``issuer db prune`` and ``issuer users revoke-sessions``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from issuer.housekeeping import prune
from issuer.models import RefreshFamily, RefreshToken, RevokedAccessToken
from issuer.refresh import revoke_user_families
from tests.conftest import START, Accounts, Running, basic
from tests.test_refresh import login, refresh

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(refresh_idle_ttl=100, refresh_absolute_ttl=250, refresh_grace_seconds=0)


async def count(running: Running, model: type) -> int:
    async with running.issuer.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_prune_keeps_reuse_history_until_absolute_expiry(
    running: Running, accounts: Accounts
) -> None:
    old = (await login(running, accounts))["refresh_token"]
    await refresh(running, accounts, old)  # old is now used: its row is reuse history
    running.clock.advance(200)
    young = (await login(running, accounts))  # a family started 200 s later
    await running.http.post("/revoke", data={"token": young["access_token"]},
                            headers=basic("mobile", accounts.mobile_secret))

    early = await prune(running.issuer.sessions, START + 249, batch_size=1)
    assert (early.families, early.refresh_tokens, early.revoked_access_tokens) == (0, 0, 0)

    pruned = await prune(running.issuer.sessions, START + 250, batch_size=1)
    assert (pruned.families, pruned.refresh_tokens) == (1, 2)
    assert (await count(running, RefreshFamily), await count(running, RefreshToken)) == (1, 1)

    later = await prune(running.issuer.sessions, START + 200 + 900, batch_size=1)
    assert later.revoked_access_tokens == 1
    assert await count(running, RevokedAccessToken) == 0


async def test_reuse_still_detected_before_prune_time(running: Running, accounts: Accounts) -> None:
    old = (await login(running, accounts))["refresh_token"]
    successor = (await refresh(running, accounts, old)).json()["refresh_token"]
    running.clock.advance(50)
    await prune(running.issuer.sessions, int(running.clock()))

    assert (await refresh(running, accounts, old)).json()["error"] == "invalid_grant"
    assert (await refresh(running, accounts, successor)).json()["error"] == "invalid_grant"


async def test_revoke_sessions_revokes_every_family(running: Running, accounts: Accounts) -> None:
    tokens = [(await login(running, accounts))["refresh_token"] for _ in range(3)]

    async with running.issuer.sessions() as session, session.begin():
        revoked = await revoke_user_families(session, accounts.user_id, START)

    assert revoked == 3
    for token in tokens:
        assert (await refresh(running, accounts, token)).json()["error"] == "invalid_grant"
    assert "refresh_token" in await login(running, accounts)


def test_cli_revoke_sessions_and_prune(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from issuer.cli import main

    monkeypatch.setenv("ISSUER_DATABASE_URL", database_url)
    monkeypatch.setenv("ISSUER_ARGON2_MEMORY_KIB", "1024")
    runner = CliRunner()
    runner.invoke(main, ["users", "add", "zoe@example.com", "--password-stdin"],
                  input="zoe's password\n")

    revoked = runner.invoke(main, ["users", "revoke-sessions", "ZOE@example.com"])
    unknown = runner.invoke(main, ["users", "revoke-sessions", "nobody@example.com"])
    pruned = runner.invoke(main, ["db", "prune", "--batch-size", "10"])

    assert (revoked.exit_code, revoked.output) == (0, "revoked 0 session(s) of ZOE@example.com\n")
    assert unknown.exit_code == 1 and "no user with email nobody@example.com" in unknown.output
    assert pruned.output == (
        "pruned 0 refresh-token families (0 tokens) and 0 revoked access-token ids\n")
