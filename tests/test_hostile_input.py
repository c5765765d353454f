"""Inputs found by attacking the issuer: each answered in the protocol's format, no 500."""

from __future__ import annotations

import asyncio

import pytest

from issuer.models import Client, User
from issuer.users import create_user
from tests.conftest import START, Accounts, Running, basic
from tests.test_refresh import login, refresh

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(refresh_grace_seconds=5)


async def test_logins_in_flight_hold_no_database_connection(
    running: Running, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More slow logins than the pool has connections, and a client_credentials request
    still completes while every one of them is stuck in argon2."""
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    passwords = running.issuer.passwords
    original = passwords._check

    def stuck(stored_hash: str, password: str) -> bool:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(timeout=30)
        return original(stored_hash, password)

    monkeypatch.setattr(passwords, "_check", stuck)
    logins = [
        asyncio.create_task(running.http.post("/token", data={
            "grant_type": "password", "client_id": "spa", "username": accounts.email,
            "password": f"wrong {n}"}))
        for n in range(20)
    ]
    await asyncio.sleep(0.2)

    service = await asyncio.wait_for(running.http.post(
        "/token", data={"grant_type": "client_credentials"},
        headers=basic("service", accounts.service_secret)), timeout=15)
    still_stuck = sum(not task.done() for task in logins)
    release.set()
    failures = await asyncio.gather(*logins)

    assert service.status_code == 200
    assert still_stuck == 20
    assert {r.json()["error"] for r in failures} == {"invalid_grant"}


@pytest.mark.parametrize(
    "body",
    [b'{"email": "\\ud800@example.com", "password": "whatever!"}',
     b'{"email": "a@b.c", "password": "\\udfff\\ud800"}',
     b"[" * 5000 + b"]" * 5000],
    ids=["surrogate email", "surrogate password", "deep nesting"],
)
async def test_json_api_refuses_unencodable_or_deep_json(running: Running, body: bytes) -> None:
    for path in ("/api/auth/login", "/api/auth/refresh-token"):
        response = await running.http.post(path, content=body,
                                           headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()) == (
            400, {"message": "the body is not valid JSON"})


async def test_non_ascii_basic_credentials(running: Running) -> None:
    response = await running.http.post(
        "/token", content=b"grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": b"Basic \xe9\xe9"},
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


async def test_two_authorization_headers_are_refused(running: Running, accounts: Accounts) -> None:
    good = basic("service", accounts.service_secret)["Authorization"]
    response = await running.http.post(
        "/token", content=b"grant_type=client_credentials",
        headers=[("Content-Type", "application/x-www-form-urlencoded"),
                 ("Authorization", good), ("Authorization", "Basic eDp5")],
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_a_wider_scope_does_not_hide_reuse(running: Running, accounts: Accounts) -> None:
    parent = (await login(running, accounts))["refresh_token"]
    successor = (await refresh(running, accounts, parent)).json()["refresh_token"]
    running.clock.advance(6)

    probe = await refresh(running, accounts, parent, scope="openid api profile email")

    assert (probe.status_code, probe.json()["error"]) == (400, "invalid_grant")
    assert (await refresh(running, accounts, successor)).json()["error"] == "invalid_grant"


async def test_json_api_revokes_the_users_token_of_any_client(
    running: Running, accounts: Accounts
) -> None:
    from issuer.clients import create_client

    async with running.issuer.sessions() as session, session.begin():
        await create_client(session, "app", now=START, grants=["password"], scopes=["api"],
                            public=True)
    body = await login(running, accounts)  # through the "mobile" client

    response = await running.http.post(
        "/api/auth/revoke-token", json={"refreshToken": body["refresh_token"]},
        headers={"Authorization": f"Bearer {body['access_token']}"})

    assert response.status_code == 200
    assert (await refresh(running, accounts, body["refresh_token"])).json()["error"] == (
        "invalid_grant")


async def test_disabled_user_and_client_tokens_are_no_longer_live(
    running: Running, accounts: Accounts
) -> None:
    body = await login(running, accounts)
    mobile = basic("mobile", accounts.mobile_secret)
    async with running.issuer.sessions() as session, session.begin():
        user = await session.get(User, accounts.user_id)
        assert user is not None
        user.disabled = True
    access, refresh_token = body["access_token"], body["refresh_token"]

    for token in (access, refresh_token):
        result = await running.http.post("/introspect", data={"token": token}, headers=mobile)
        assert result.json() == {"active": False}

    async with running.issuer.sessions() as session, session.begin():
        user = await session.get(User, accounts.user_id)
        client = await session.get(Client, "mobile")
        assert user is not None and client is not None
        user.disabled, client.disabled = False, True
    userinfo = await running.http.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
    introspection = await running.http.post("/introspect", data={"token": access}, headers=mobile)
    revocation = await running.http.post("/revoke", data={"token": access}, headers=mobile)

    assert (userinfo.status_code, userinfo.json()["error"]) == (401, "invalid_token")
    assert (introspection.status_code, introspection.json()["error"]) == (401, "invalid_client")
    assert revocation.status_code == 200


@pytest.mark.parametrize(("stored", "presented"),
                         [("straße@example.com", "strasse@example.com"),
                          ("office@example.com", "o\ufb00ice@example.com")])
async def test_unicode_lookalikes_are_different_users(
    running: Running, accounts: Accounts, stored: str, presented: str
) -> None:
    async with running.issuer.sessions() as session, session.begin():
        await create_user(session, running.issuer.passwords, stored, "a long password",
                          now=START)
        await create_user(session, running.issuer.passwords, presented, "another password",
                          now=START)

    response = await running.http.post("/token", data={
        "grant_type": "password", "client_id": "spa", "username": presented,
        "password": "a long password"})

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def test_errors_do_not_echo_the_input(running: Running, accounts: Accounts) -> None:
    response = await running.http.post(
        "/token", content=b"grant_type=password;username=a@b.c;password=hunter2hunter2",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    long_scope = await running.http.post(
        "/token", data={"grant_type": "client_credentials", "scope": "x" * 5000},
        headers=basic("service", accounts.service_secret))

    assert response.json() == {"error": "unsupported_grant_type",
                               "error_description": "this grant_type is not supported"}
    assert long_scope.json() == {"error": "invalid_scope", "error_description":
                                 "a requested scope is not allowed for this client"}


@pytest.mark.parametrize(("method", "path", "status"),
                         [("GET", "/token", 405), ("PUT", "/revoke", 405),
                          ("DELETE", "/introspect", 405), ("POST", "/token/", 404),
                          ("GET", "/nowhere", 404)])
async def test_routing_errors_are_json_and_never_redirect(
    running: Running, method: str, path: str, status: int
) -> None:
    response = await running.http.request(method, path)

    assert response.status_code == status
    assert response.json()["error"] == "invalid_request"


async def test_a_charset_other_than_utf8_is_refused(running: Running, accounts: Accounts) -> None:
    response = await running.http.post(
        "/token", content=b"grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1",
                 **basic("service", accounts.service_secret)})
    utf8 = await running.http.post(
        "/token", content=b"grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
                 **basic("service", accounts.service_secret)})

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert utf8.status_code == 200


async def test_json_api_bearer_errors_are_messages(running: Running) -> None:
    missing = await running.http.post("/api/auth/revoke-token", json={"refreshToken": "x"})
    forged = await running.http.post("/api/auth/revoke-token", json={"refreshToken": "x"},
                                     headers={"Authorization": "Bearer a.b.c"})

    assert (missing.status_code, missing.json()) == (
        401, {"message": "a bearer access token is required"})
    assert missing.headers["www-authenticate"] == 'Bearer realm="issuer"'
    assert forged.status_code == 401 and set(forged.json()) == {"message"}
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]


async def test_client_changes_are_seen_within_the_cache_lifetime(
    make_settings, clock, kek  # type: ignore[no-untyped-def]
) -> None:
    import httpx

    from issuer.service import Issuer
    from issuer.web import create_app
    from tests.conftest import create_accounts

    issuer = Issuer(make_settings(client_cache_seconds=5), clock=clock, kek=kek)
    await issuer.start()
    transport = httpx.ASGITransport(app=create_app(issuer, manage_lifecycle=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://issuer.test") as http:
        accounts = await create_accounts(Running(issuer, http, clock))

        async def status() -> int:
            response = await http.post("/token", data={"grant_type": "client_credentials"},
                                       headers=basic("service", accounts.service_secret))
            return response.status_code

        first = await status()
        async with issuer.sessions() as session, session.begin():
            client = await session.get(Client, "service")
            assert client is not None
            client.disabled = True
        clock.advance(4)
        cached = await status()
        clock.advance(1)
        expired = await status()
    await issuer.stop()

    assert (first, cached, expired) == (200, 200, 400)


async def test_revoking_a_family_ends_its_access_tokens_at_the_issuer(
    running: Running, accounts: Accounts
) -> None:
    from tests.conftest import segments

    body = await login(running, accounts)
    _, claims = segments(body["access_token"])
    mobile = basic("mobile", accounts.mobile_secret)

    await running.http.post("/revoke", data={"token": body["refresh_token"]}, headers=mobile)

    introspection = await running.http.post("/introspect", data={"token": body["access_token"]},
                                            headers=mobile)
    userinfo = await running.http.get(
        "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert isinstance(claims["sid"], str) and len(claims["sid"]) == 36
    assert introspection.json() == {"active": False}
    assert (userinfo.status_code, userinfo.json()["error_description"]) == (
        401, "the token's session has ended")


async def test_reuse_ends_the_thiefs_access_token_too(running: Running, accounts: Accounts) -> None:
    first = await login(running, accounts)
    rotated = (await refresh(running, accounts, first["refresh_token"])).json()
    running.clock.advance(6)

    await refresh(running, accounts, first["refresh_token"])  # reuse: the family is revoked

    introspection = await running.http.post(
        "/introspect", data={"token": rotated["access_token"]},
        headers=basic("mobile", accounts.mobile_secret))
    assert introspection.json() == {"active": False}


async def test_newlines_in_the_path_cannot_forge_log_lines(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="issuer.access")
    await running.http.get("/x%0A2026-12-03 WARNING issuer.security: forged%E2%80%AE")

    [record] = [r for r in caplog.records if r.name == "issuer.access"]
    line = record.getMessage()
    assert "\n" not in line and "\u202e" not in line
    assert '"GET /x\\n2026-12-03 WARNING issuer.security: forged\\u202e" 404' in line


async def test_repeated_parameter_names_are_not_echoed(running: Running) -> None:
    response = await running.http.post(
        "/token", content=b"%0D%0AX-Injected:%201=1&%0D%0AX-Injected:%201=2",
        headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert response.json() == {"error": "invalid_request",
                               "error_description": "a parameter must not be repeated"}


@pytest.mark.parametrize(("method", "path", "status"),
                         [("GET", "/api/auth/login", 405), ("POST", "/api/auth/nope", 404)])
async def test_json_api_routing_errors_are_messages(
    running: Running, method: str, path: str, status: int
) -> None:
    response = await running.http.request(method, path)

    assert response.status_code == status and set(response.json()) == {"message"}


async def test_unknown_refresh_tokens_never_open_a_write_transaction(
    running: Running, accounts: Accounts
) -> None:
    from sqlalchemy import event

    statements: list[str] = []
    engine = running.issuer.engine.sync_engine

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = await refresh(running, accounts, "a-guessed-token")
        revoked = await running.http.post("/revoke", data={"token": "another-guess"},
                                          headers=basic("mobile", accounts.mobile_secret))
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert response.json()["error"] == "invalid_grant" and revoked.status_code == 200
    writes = ("BEGIN IMMEDIATE", "UPDATE", "INSERT", "FOR UPDATE")
    assert not [s for s in statements if any(word in s for word in writes)]
    assert len([s for s in statements if "FROM refresh_tokens" in s]) <= 2  # the look-ups


async def test_a_revoked_signing_key_ends_its_tokens_before_the_next_reload(
    running: Running, accounts: Accounts
) -> None:
    from sqlalchemy import update

    from keys.store import SigningKey

    access = (await login(running, accounts))["access_token"]
    mobile = basic("mobile", accounts.mobile_secret)
    assert (await running.http.post("/introspect", data={"token": access},
                                    headers=mobile)).json()["active"] is True
    async with running.issuer.sessions() as session, session.begin():
        await session.execute(update(SigningKey).values(state="removed"))  # as `keys revoke` does

    introspection = await running.http.post("/introspect", data={"token": access}, headers=mobile)
    userinfo = await running.http.get("/userinfo", headers={"Authorization": f"Bearer {access}"})

    assert introspection.json() == {"active": False}
    assert (userinfo.status_code, userinfo.json()["error_description"]) == (
        401, "the token's signing key has been revoked")
