"""End to end over real HTTP: uvicorn in a subprocess, accounts made through the CLI, and
tokens checked by PyJWT's ``PyJWKClient``, an implementation independent of ours."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt as pyjwt
import pytest

from keys import KeyEncryptionKey


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    url: str  # the issuer identifier
    env: dict[str, str]
    cwd: Path
    log: Path
    port_url: str  # where this process listens; the same as url unless ISSUER_URL is shared

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "issuer", *args], input=stdin, capture_output=True,
            text=True, env=self.env, cwd=self.cwd, timeout=60, check=False,
        )


def start_server(
    tmp_path: Path, database_url: str, **env_overrides: str
) -> tuple[subprocess.Popen[bytes], Server]:
    process, server = spawn_server(tmp_path, database_url, **env_overrides)
    wait_ready(server.port_url, process, server.log)
    return process, server


def spawn_server(
    tmp_path: Path, database_url: str, name: str = "server", **env_overrides: str
) -> tuple[subprocess.Popen[bytes], Server]:
    """Start ``issuer serve`` on a free port without waiting for it to be ready."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ISSUER_URL": url,
        "ISSUER_DATABASE_URL": database_url,
        "ISSUER_KEK": KeyEncryptionKey.new_text(),
        "ISSUER_ARGON2_MEMORY_KIB": "1024",
        "ISSUER_ARGON2_TIME_COST": "1",
        **env_overrides,
    }
    log = tmp_path / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "issuer", "serve", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    return process, Server(env["ISSUER_URL"], env, tmp_path, log, url)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server not ready: {log.read_text()}")


@pytest.fixture(params=["RS256", "ES256"])
def server(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> Iterator[Server]:
    process, running = start_server(tmp_path, database_url, ISSUER_SIGNING_ALG=request.param)
    try:
        yield running
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_tokens_from_both_grants_verify_with_pyjwt(server: Server) -> None:
    alg = server.env["ISSUER_SIGNING_ALG"]
    user = server.cli("users", "add", "erin@example.com", "--password-stdin", "--role", "ops",
                      stdin="a long password\n")
    client = server.cli("clients", "add", "app", "--grant", "password", "--grant",
                        "client_credentials", "--scope", "openid", "--scope", "api")
    assert (user.returncode, client.returncode) == (0, 0), user.stderr + client.stderr
    secret = client.stdout.split("client_secret: ")[1].split()[0]

    discovery = httpx.get(f"{server.url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == server.url
    assert discovery["id_token_signing_alg_values_supported"] == [alg]
    jwks_client = pyjwt.PyJWKClient(discovery["jwks_uri"])

    password = httpx.post(
        discovery["token_endpoint"], auth=("app", secret),
        data={"grant_type": "password", "username": "Erin@Example.com",
              "password": "a long password", "scope": "openid api"},
    )
    service = httpx.post(
        discovery["token_endpoint"],
        data={"grant_type": "client_credentials", "client_id": "app", "client_secret": secret,
              "scope": "api"},
    )
    assert (password.status_code, service.status_code) == (200, 200)

    for body, subject in ((password.json(), None), (service.json(), "app")):
        access = body["access_token"]
        signing_key = jwks_client.get_signing_key_from_jwt(access)
        header = pyjwt.get_unverified_header(access)
        claims = pyjwt.decode(access, signing_key.key, algorithms=[alg], audience="api",
                              issuer=server.url, options={"require": ["exp", "iat", "jti"]})
        assert header == {"alg": alg, "kid": signing_key.key_id, "typ": "at+jwt"}
        assert claims["exp"] - claims["iat"] == 900
        assert all(isinstance(claims[name], int) for name in ("exp", "iat"))
        assert claims["client_id"] == "app"
        if subject is not None:
            assert claims["sub"] == subject
        else:
            assert claims["roles"] == ["ops"] and claims["email"] == "erin@example.com"

    id_token = password.json()["id_token"]
    id_claims = pyjwt.decode(id_token, jwks_client.get_signing_key_from_jwt(id_token).key,
                             algorithms=[alg], audience="app", issuer=server.url)
    assert id_claims["aud"] == "app"

    userinfo = httpx.get(f"{server.url}/userinfo",
                         headers={"Authorization": f"Bearer {password.json()['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == id_claims["sub"]
    misplaced = httpx.get(f"{server.url}/userinfo?access_token={password.json()['access_token']}")
    assert misplaced.status_code == 401
    deadline = time.monotonic() + 10  # the line is written just after the response
    while '"GET /userinfo" 401' not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log.read_text()
    assert '"GET /userinfo" 401' in log  # one access-log line, without the query string
    assert secret not in log and "a long password" not in log
    assert password.json()["access_token"] not in log


def test_keys_survive_a_restart(tmp_path: Path, database_url: str) -> None:
    env = {"ISSUER_KEK": KeyEncryptionKey.new_text()}
    process, server = start_server(tmp_path, database_url, **env)
    first = httpx.get(f"{server.url}/.well-known/jwks.json").json()
    process.terminate()
    process.wait(timeout=10)

    process, server = start_server(tmp_path, database_url, **env)
    try:
        second = httpx.get(f"{server.url}/.well-known/jwks.json").json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert second == first and len(first["keys"]) == 1


def test_serve_refuses_to_start_without_a_kek(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISSUER_")}
    env["ISSUER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "issuer", "serve", "--port", str(free_port())],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )

    assert result.returncode == 1
    assert "no key-encryption key: set ISSUER_KEK or ISSUER_KEK_FILE" in result.stderr
