"""Two issuer processes on one database behave as one issuer."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt as pyjwt
import pytest
from sqlalchemy import text

from issuer.db import create_sync_engine
from issuer.migrate import head_revision
from keys import KeyEncryptionKey
from tests.test_end_to_end import Server, spawn_server, wait_ready

ISSUER = "http://issuer.test"


def start_pair(
    tmp_path: Path, database_url: str, **env: str
) -> tuple[list[subprocess.Popen[bytes]], list[Server]]:
    """Two processes started at the same moment: one issuer URL, one KEK, one database."""
    shared = {"ISSUER_URL": ISSUER, "ISSUER_KEK": KeyEncryptionKey.new_text(), **env}
    started = [spawn_server(tmp_path, database_url, name, **shared) for name in ("a", "b")]
    for process, server in started:
        wait_ready(server.port_url, process, server.log)
    return [process for process, _ in started], [server for _, server in started]


@pytest.fixture
def pair(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest
) -> Iterator[list[Server]]:
    env = getattr(request, "param", {})
    processes, servers = start_pair(tmp_path, database_url, **env)
    try:
        yield servers
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def register(server: Server) -> str:
    user = server.cli("users", "add", "lee@example.com", "--password-stdin",
                      stdin="lees password\n")
    client = server.cli("clients", "add", "app", "--grant", "password", "--grant",
                        "refresh_token", "--grant", "client_credentials", "--scope", "api")
    assert (user.returncode, client.returncode) == (0, 0), user.stderr + client.stderr
    secret: str = client.stdout.split("client_secret: ")[1].split()[0]
    return secret


def login(server: Server, secret: str) -> dict:
    response = httpx.post(f"{server.port_url}/token", auth=("app", secret), data={
        "grant_type": "password", "username": "lee@example.com", "password": "lees password"})
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


def test_both_start_at_once_with_one_key_and_one_schema(
    pair: list[Server], database_url: str
) -> None:
    jwks = [httpx.get(f"{s.port_url}/.well-known/jwks.json").json() for s in pair]

    engine = create_sync_engine(database_url)
    with engine.connect() as connection:
        keys = connection.execute(text("SELECT kid, state FROM signing_keys")).all()
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()

    assert len(keys) == 1 and keys[0][1] == "active"
    assert [tuple(v) for v in versions] == [(head_revision(),)]
    assert jwks[0] == jwks[1] and [k["kid"] for k in jwks[0]["keys"]] == [keys[0][0]]


def test_token_from_one_verifies_with_the_jwks_of_the_other(pair: list[Server]) -> None:
    secret = register(pair[0])

    token = httpx.post(f"{pair[0].port_url}/token", auth=("app", secret),
                       data={"grant_type": "client_credentials"}).json()["access_token"]
    jwks = httpx.get(f"{pair[1].port_url}/.well-known/jwks.json").json()
    kid = pyjwt.get_unverified_header(token)["kid"]
    [jwk] = [key for key in jwks["keys"] if key["kid"] == kid]

    claims = pyjwt.decode(token, pyjwt.PyJWK(jwk).key, algorithms=["RS256"], audience="api",
                          issuer=ISSUER)
    assert claims["sub"] == "app"
    introspected = httpx.post(f"{pair[1].port_url}/introspect", auth=("app", secret),
                              data={"token": token}).json()
    assert introspected["active"] is True


@pytest.mark.parametrize("pair", [{"ISSUER_REFRESH_GRACE_SECONDS": "0"}], indirect=True)
def test_reuse_detected_on_one_revokes_the_family_for_the_other(pair: list[Server]) -> None:
    a, b = pair
    secret = register(a)
    parent = login(a, secret)["refresh_token"]
    child = httpx.post(f"{a.port_url}/token", auth=("app", secret), data={
        "grant_type": "refresh_token", "refresh_token": parent}).json()["refresh_token"]

    reuse = httpx.post(f"{b.port_url}/token", auth=("app", secret), data={
        "grant_type": "refresh_token", "refresh_token": parent})
    after = httpx.post(f"{a.port_url}/token", auth=("app", secret), data={
        "grant_type": "refresh_token", "refresh_token": child})

    assert (reuse.status_code, reuse.json()["error"]) == (400, "invalid_grant")
    assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")


async def spread_refreshes(servers: list[Server], secret: str, token: str, count: int):
    async with httpx.AsyncClient(auth=("app", secret), timeout=60,
                                 limits=httpx.Limits(max_connections=count)) as http:
        return await asyncio.gather(*(
            http.post(f"{servers[i % 2].port_url}/token",
                      data={"grant_type": "refresh_token", "refresh_token": token})
            for i in range(count)
        ))


@pytest.mark.parametrize(
    ("pair", "successes"),
    [({"ISSUER_REFRESH_GRACE_SECONDS": "0"}, 1), ({"ISSUER_REFRESH_GRACE_SECONDS": "60"}, 100)],
    indirect=["pair"],
)
def test_100_concurrent_refreshes_over_both_processes(pair: list[Server], successes: int) -> None:
    secret = register(pair[0])
    token = login(pair[0], secret)["refresh_token"]

    responses = asyncio.run(spread_refreshes(pair, secret, token, 100))

    statuses = [r.status_code for r in responses]
    assert max(statuses) < 500, statuses
    assert statuses.count(200) == successes
    assert len({r.json()["refresh_token"] for r in responses if r.status_code == 200}) == 1


def jwks_kids(server: Server) -> list[str]:
    keys = httpx.get(f"{server.port_url}/.well-known/jwks.json").json()["keys"]
    return sorted(key["kid"] for key in keys)


def signing_kid(server: Server, secret: str) -> str:
    token = httpx.post(f"{server.port_url}/token", auth=("app", secret),
                       data={"grant_type": "client_credentials"}).json()["access_token"]
    kid: str = pyjwt.get_unverified_header(token)["kid"]
    return kid


def within(seconds: float, check) -> bool:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return bool(check())


RELOAD = {"ISSUER_KEY_RELOAD_INTERVAL": "1", "ISSUER_KEY_AUTO_ROTATE": "false"}


@pytest.mark.parametrize("pair", [RELOAD], indirect=True)
def test_a_rotation_by_the_ops_script_is_served_by_both(pair: list[Server]) -> None:
    import sys

    secret = register(pair[0])
    [old_kid] = jwks_kids(pair[0])
    script = str(Path(__file__).resolve().parent.parent / "scripts" / "rotate_keys.py")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, script, *args], env=pair[0].env, cwd=pair[0].cwd,
            capture_output=True, text=True, timeout=60, check=False,
        )

    published = run("--now")
    assert published.returncode == 0, published.stdout + published.stderr
    assert within(10, lambda: all(len(jwks_kids(s)) == 2 for s in pair))
    [new_kid] = [kid for kid in jwks_kids(pair[0]) if kid != old_kid]
    assert [signing_kid(s, secret) for s in pair] == [old_kid, old_kid]

    activated = run("--force")
    assert activated.returncode == 0, activated.stdout + activated.stderr
    assert within(10, lambda: [signing_kid(s, secret) for s in pair] == [new_kid, new_kid])
    assert all(jwks_kids(s) == sorted([old_kid, new_kid]) for s in pair)


def test_serve_with_two_workers_on_an_empty_database(tmp_path: Path, database_url: str) -> None:
    import os
    import sys

    from tests.test_end_to_end import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ISSUER_URL": url, "ISSUER_DATABASE_URL": database_url,
           "ISSUER_KEK": KeyEncryptionKey.new_text()}
    log = tmp_path / "workers.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "issuer", "serve", "--port", str(port), "--workers", "2"],
        env=env, cwd=tmp_path, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(url, process, log)
        assert within(20, lambda: log.read_text().count("Application startup complete") == 2)
        kids = {tuple(jwks_kids_at(url)) for _ in range(20)}
    finally:
        process.terminate()
        process.wait(timeout=20)

    engine = create_sync_engine(database_url)
    with engine.connect() as connection:
        keys = connection.execute(text("SELECT state FROM signing_keys")).all()
    engine.dispose()
    assert [tuple(k) for k in keys] == [("active",)]
    assert len(kids) == 1


def jwks_kids_at(url: str) -> list[str]:
    keys = httpx.get(f"{url}/.well-known/jwks.json").json()["keys"]
    return sorted(key["kid"] for key in keys)
