"""Concurrent refreshes through the real HTTP server, and no token in its logs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.test_end_to_end import start_server

CONCURRENCY = 50


def setup_accounts(server) -> str:  # type: ignore[no-untyped-def]
    user = server.cli("users", "add", "kim@example.com", "--password-stdin",
                      stdin="kims password\n")
    client = server.cli("clients", "add", "app", "--grant", "password", "--grant",
                        "refresh_token", "--scope", "api")
    assert (user.returncode, client.returncode) == (0, 0), user.stderr + client.stderr
    secret: str = client.stdout.split("client_secret: ")[1].split()[0]
    return secret


async def storm(url: str, secret: str, token: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, auth=("app", secret), limits=limits,
                                 timeout=60) as http:
        return list(await asyncio.gather(*(
            http.post("/token", data={"grant_type": "refresh_token", "refresh_token": token})
            for _ in range(CONCURRENCY)
        )))


@pytest.mark.parametrize(("grace", "expected_successes"), [("0", 1), ("30", CONCURRENCY)])
def test_concurrent_refreshes_of_one_token(
    tmp_path: Path, database_url: str, grace: str, expected_successes: int
) -> None:
    process, server = start_server(tmp_path, database_url, ISSUER_REFRESH_GRACE_SECONDS=grace)
    try:
        secret = setup_accounts(server)
        login = httpx.post(f"{server.url}/token", auth=("app", secret), data={
            "grant_type": "password", "username": "kim@example.com", "password": "kims password",
        }).json()

        responses = asyncio.run(storm(server.url, secret, login["refresh_token"]))
    finally:
        process.terminate()
        process.wait(timeout=10)

    statuses = [r.status_code for r in responses]
    successors = {r.json()["refresh_token"] for r in responses if r.status_code == 200}
    assert max(statuses) < 500, statuses
    assert statuses.count(200) == expected_successes
    assert set(statuses) <= {200, 400}
    assert len(successors) == 1
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code == 400)

    log = server.log.read_text()
    issued = [login["refresh_token"], login["access_token"], secret, "kims password"]
    issued += [r.json()["access_token"] for r in responses if r.status_code == 200]
    issued += list(successors)
    assert "POST /token" in log  # the access log was captured
    assert [value for value in issued if value in log] == []
