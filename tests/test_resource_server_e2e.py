"""The example resource server against a real issuer, both as processes on loopback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.test_end_to_end import free_port, start_server

ROOT = Path(__file__).resolve().parent.parent


def wait_listening(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("resource server exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("resource server did not start")


def test_resource_server_verifies_issuer_tokens(tmp_path: Path, database_url: str) -> None:
    issuer, server = start_server(tmp_path, database_url)
    port = free_port()
    resource = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "resource_server.py"), "--issuer", server.url,
         "--audience", "api", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_listening(base, resource)
        for email, roles in (("root@example.com", ["--role", "admin"]), ("ann@example.com", [])):
            assert server.cli("users", "add", email, "--password-stdin", *roles,
                              stdin="long password\n").returncode == 0
        added = server.cli("clients", "add", "app", "--grant", "password", "--scope", "api")
        secret = added.stdout.split("client_secret: ")[1].split()[0]

        def token_for(email: str) -> str:
            response = httpx.post(f"{server.url}/token", auth=("app", secret), data={
                "grant_type": "password", "username": email, "password": "long password"})
            token: str = response.json()["access_token"]
            return token

        admin = {"Authorization": f"Bearer {token_for('root@example.com')}"}
        user = {"Authorization": f"Bearer {token_for('ann@example.com')}"}

        whoami = httpx.get(f"{base}/whoami", headers=user)
        assert whoami.status_code == 200
        assert (whoami.json()["email"], whoami.json()["aud"]) == ("ann@example.com", "api")
        assert httpx.get(f"{base}/admin", headers=admin).status_code == 200
        forbidden = httpx.get(f"{base}/admin", headers=user)
        assert forbidden.status_code == 403
        assert 'error="insufficient_scope"' in forbidden.headers["www-authenticate"]
        anonymous = httpx.get(f"{base}/whoami")
        assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, "Bearer")
        forged = httpx.get(f"{base}/whoami",
                           headers={"Authorization": user["Authorization"][:-4] + "AAAA"})
        assert forged.status_code == 401
        assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    finally:
        resource.terminate()
        issuer.terminate()
        resource.wait(timeout=10)
        issuer.wait(timeout=10)
