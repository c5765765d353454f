"""The running issuer rotates by itself, and a failed reload keeps serving the last key set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import update

from issuer.service import Issuer
from issuer.settings import Settings
from issuer.web import create_app
from keys import KeyEncryptionKey
from keys.store import SIGNING_KEYS
from tests.conftest import START, FakeClock

pytestmark = pytest.mark.anyio

POLICY = {"signing_alg": "ES256", "jwks_max_age": 60, "key_propagation_margin": 10,
          "key_rotation_period": 600, "access_token_ttl": 120, "id_token_ttl": 120,
          "clock_leeway": 10}


@pytest.fixture
async def started(
    make_settings: Callable[..., Settings], kek: KeyEncryptionKey, clock: FakeClock
) -> AsyncIterator[tuple[Issuer, httpx.AsyncClient]]:
    issuer = Issuer(make_settings(**POLICY, key_reload_interval=0.02), clock=clock, kek=kek)
    await issuer.start()
    transport = httpx.ASGITransport(app=create_app(issuer, manage_lifecycle=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://issuer.test") as http:
        yield issuer, http
    await issuer.stop()


async def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the reload loop did not get there")


async def test_the_reload_loop_applies_the_schedule_without_cron(
    started: tuple[Issuer, httpx.AsyncClient], clock: FakeClock
) -> None:
    issuer, http = started
    first = issuer.keys.ring.require_signer().kid

    clock.now = START + 530
    await wait_for(lambda: len(issuer.keys.ring.kids) == 2)
    clock.now = START + 600
    await wait_for(lambda: issuer.keys.ring.require_signer().kid != first)
    clock.now = START + 730
    await wait_for(lambda: first not in issuer.keys.ring.kids)

    assert len((await http.get("/.well-known/jwks.json")).json()["keys"]) == 1


async def test_automatic_rotation_can_be_switched_off(
    make_settings: Callable[..., Settings], kek: KeyEncryptionKey, clock: FakeClock
) -> None:
    settings = make_settings(**POLICY, key_auto_rotate=False, key_reload_interval=5)
    issuer = Issuer(settings, clock=clock, kek=kek)
    await issuer.start()
    clock.now = START + 530
    await issuer.advance_keys()
    ring = await issuer.keys.reload()
    await issuer.stop()

    assert len(ring.kids) == 1


async def test_a_failed_reload_keeps_serving_the_last_key_set(
    started: tuple[Issuer, httpx.AsyncClient], clock: FakeClock
) -> None:
    issuer, http = started
    clock.now = START + 530
    await wait_for(lambda: len(issuer.keys.ring.kids) == 2)
    before = await http.get("/.well-known/jwks.json")
    signer = issuer.keys.ring.require_signer().kid
    async with issuer.sessions() as session, session.begin():
        # Another process activated a key that this one cannot open (a wrong KEK here).
        await session.execute(update(SIGNING_KEYS).where(SIGNING_KEYS.c.state == "active")
                              .values(state="retired", retired_at=START + 531))
        await session.execute(update(SIGNING_KEYS).where(SIGNING_KEYS.c.state == "next")
                              .values(state="active", activated_at=START + 531,
                                      sealed_private="v1.000000000000.AAAA"))

    await asyncio.sleep(0.2)  # ten reloads, all failing
    during = await http.get("/.well-known/jwks.json")

    assert (during.status_code, during.content) == (200, before.content)
    assert during.headers["etag"] == before.headers["etag"]
    assert issuer.keys.ring.require_signer().kid == signer
