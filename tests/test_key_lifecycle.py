"""The key schedule on an injected clock: each transition at its exact second, never earlier.

With the policy below: C = 60, M = 10 (so C + M = 70), T = 120, L = 10 (so T + L = 130)
and P = 600. A key activated at S gets its successor published at S + 530, activated at
S + 600, and is removed at S + 730.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from issuer.db import create_async_engine, session_factory
from issuer.migrate import upgrade
from issuer.settings import Settings
from keys import (
    InvalidPolicy,
    KeyEncryptionKey,
    KeyEncryptionKeyError,
    KeyManager,
    Policy,
    RotationRefused,
    SigningKey,
    UnknownKey,
    advance,
    ensure_active_key,
    plan,
    revoke,
    rewrap,
)
from keys.lifecycle import ACTIVATE, CREATE, DISCARD, PUBLISH, REMOVE, due, select
from keys.store import all_keys
from tests.conftest import START, FakeClock

POLICY = Policy(signing_alg="ES256", jwks_max_age=60, propagation_margin=10,
                longest_token_ttl=120, clock_leeway=10, rotation_period=600)
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def key(kid: str, state: str, *, alg: str = "ES256", published: int = START,
        activated: int | None = None, retired: int | None = None) -> SigningKey:
    """An in-memory row: the pure schedule reads nothing but these fields."""
    return SigningKey(kid=kid, alg=alg, state=state, public_jwk="{}", created_at=published,
                      published_at=published, activated_at=activated, retired_at=retired)


def actions(rows: list[SigningKey], now: int, policy: Policy = POLICY) -> list[tuple[str, str]]:
    return [(step.action, step.kid or "") for step in due(plan(rows, policy, now), now)]


# The pure schedule: boundaries, one second either side.


def test_next_key_is_published_at_period_minus_propagation() -> None:
    rows = [key("a", "active", activated=START)]

    assert actions(rows, START + 529) == []
    assert actions(rows, START + 530) == [(PUBLISH, "")]


def test_next_key_is_activated_at_the_period_once_propagated() -> None:
    rows = [key("a", "active", activated=START), key("b", "next", published=START + 530)]

    assert actions(rows, START + 599) == []
    assert actions(rows, START + 600) == [(ACTIVATE, "b")]
    step = due(plan(rows, POLICY, START + 600), START + 600)[0]
    assert step.retires == "a"


def test_a_late_published_key_waits_for_c_plus_m_even_past_the_period() -> None:
    rows = [key("a", "active", activated=START), key("b", "next", published=START + 560)]

    assert actions(rows, START + 629) == []  # the period has passed; propagation has not
    assert actions(rows, START + 630) == [(ACTIVATE, "b")]


def test_retired_key_is_removed_at_retired_at_plus_t_plus_l() -> None:
    rows = [key("a", "retired", activated=START, retired=START + 600),
            key("b", "active", published=START + 530, activated=START + 600)]

    assert actions(rows, START + 729) == []
    assert actions(rows, START + 730) == [(REMOVE, "a")]


def test_overdue_publication_happens_at_once() -> None:
    rows = [key("a", "active", activated=START)]

    steps = plan(rows, POLICY, START + 5000)  # cron was down for a long time

    assert [(s.action, s.due_at) for s in due(steps, START + 5000)] == [(PUBLISH, START + 530)]
    activation = next(s for s in steps if s.action == ACTIVATE)
    assert activation.follows and activation.due_at == START + 5070


def test_algorithm_change_publishes_at_once_and_activates_after_propagation() -> None:
    policy = replace(POLICY, signing_alg="RS256")
    rows = [key("a", "active", activated=START)]

    assert actions(rows, START + 100, policy) == [(PUBLISH, "")]
    assert due(plan(rows, policy, START + 100), START + 100)[0].alg == "RS256"

    rows.append(key("b", "next", alg="RS256", published=START + 100))
    assert actions(rows, START + 169, policy) == []
    assert actions(rows, START + 170, policy) == [(ACTIVATE, "b")]  # not at S + 600


def test_next_key_of_an_abandoned_algorithm_is_discarded() -> None:
    rows = [key("a", "active", activated=START), key("b", "next", published=START + 530)]

    assert actions(rows, START + 540, replace(POLICY, signing_alg="RS256")) == [
        (DISCARD, "b"), (PUBLISH, "")]


def test_without_keys_the_first_is_created_and_without_an_active_one_it_propagates() -> None:
    assert actions([], START) == [(CREATE, "")]
    lone = [key("a", "retired", activated=START, retired=START + 10)]
    assert actions(lone, START + 20) == [(PUBLISH, "")]
    orphan = [key("b", "next", published=START)]
    assert actions(orphan, START + 69) == [] and actions(orphan, START + 70) == [(ACTIVATE, "b")]


def test_early_activation_is_refused_unless_forced() -> None:
    rows = [key("a", "active", activated=START), key("b", "next", published=START + 530)]

    with pytest.raises(RotationRefused) as refused:
        select(rows, POLICY, START + 599, early=True)  # published 69 s: one second short
    forced = select(rows, POLICY, START + 599, force=True)
    ready = select([rows[0], key("b", "next", published=START)], POLICY, START + 70, early=True)

    assert refused.value.code == "rotation_refused" and refused.value.kid == "b"
    assert "caches may not have it yet" in refused.value.breaks
    assert [(s.action, s.kid, s.due_at) for s in forced] == [(ACTIVATE, "b", START + 599)]
    assert "published for 69 s, less than C + M = 70 s" in forced[0].breaks
    assert [(s.action, s.kid, s.breaks) for s in ready] == [(ACTIVATE, "b", "")]


def test_early_publication_breaks_nothing() -> None:
    rows = [key("a", "active", activated=START)]

    steps = select(rows, POLICY, START + 1, early=True)

    assert [(s.action, s.due_at, s.breaks) for s in steps] == [(PUBLISH, START + 1, "")]


def test_policy_refuses_a_period_shorter_than_propagation() -> None:
    with pytest.raises(InvalidPolicy) as caught:
        replace(POLICY, rotation_period=70)
    assert caught.value.code == "invalid_policy"


# The schedule applied to a database, on a fake clock.


@dataclass
class Store:
    sessions: async_sessionmaker[AsyncSession]
    kek: KeyEncryptionKey
    clock: FakeClock

    async def rows(self) -> list[SigningKey]:
        async with self.sessions() as session:
            return await all_keys(session)

    async def states(self) -> dict[str, str]:
        return {row.kid: row.state for row in await self.rows()}

    async def advance(self, policy: Policy = POLICY, **options: bool) -> list[str]:
        outcome = await advance(self.sessions, self.kek, policy, self.clock,
                                **options)
        return [step.describe(done=True) for step in outcome.steps]


@pytest.fixture
async def store(make_settings: Callable[..., Settings]) -> AsyncIterator[Store]:
    url = make_settings().database_url  # every database the suite is set to run on
    upgrade(url)
    engine = create_async_engine(url)
    clock = FakeClock()
    kek = KeyEncryptionKey.generate()
    await ensure_active_key(session_factory(engine), kek, "ES256", clock)
    yield Store(session_factory(engine), kek, clock)
    await engine.dispose()


@pytest.mark.anyio
async def test_advance_steps_through_a_rotation_at_exact_seconds(store: Store) -> None:
    (first,) = await store.states()
    done: dict[int, list[str]] = {}
    for offset in (529, 530, 599, 600, 729, 730):
        store.clock.now = START + offset
        done[offset] = await store.advance()

    rows = {row.kid: row for row in await store.rows()}
    (second,) = [kid for kid in rows if kid != first]
    assert done == {
        529: [], 530: [f"published next key {second} (ES256)"], 599: [],
        600: [f"activated {second}; retired {first}"], 729: [], 730: [f"removed {first}"],
    }
    assert (rows[first].state, rows[first].sealed_private) == ("removed", None)
    assert (rows[first].retired_at, rows[first].removed_at) == (START + 600, START + 730)
    assert (rows[second].published_at, rows[second].activated_at) == (START + 530, START + 600)
    assert rows[first].public_jwk  # the public record stays, for audit


@pytest.mark.anyio
async def test_dry_run_changes_nothing(store: Store) -> None:
    store.clock.now = START + 530
    before = [row.model_dump() for row in await store.rows()]

    outcome = await advance(store.sessions, store.kek, POLICY, store.clock,
                            dry_run=True)

    assert [step.action for step in outcome.steps] == [PUBLISH]
    assert [row.model_dump() for row in await store.rows()] == before


@pytest.mark.anyio
@pytest.mark.parametrize("offset", [530, 600])
async def test_concurrent_runs_perform_each_step_once(store: Store, offset: int) -> None:
    store.clock.now = START + 530
    if offset == 600:
        await store.advance()
        store.clock.now = START + 600

    results = await asyncio.gather(*(store.advance() for _ in range(6)))

    assert sum(len(lines) for lines in results) == 1, results
    states = sorted((await store.states()).values())
    assert states == (["active", "next"] if offset == 530 else ["active", "retired"])


@pytest.mark.anyio
async def test_advance_refuses_to_work_under_another_kek(store: Store) -> None:
    store.clock.now = START + 530
    stranger = Store(store.sessions, KeyEncryptionKey.generate(), store.clock)

    with pytest.raises(KeyEncryptionKeyError):
        await stranger.advance()
    assert len(await store.rows()) == 1  # it published nothing sealed under the wrong KEK


# Revocation.


async def published_kids(store: Store) -> set[str]:
    ring = await KeyManager(store.sessions, store.kek).reload()
    return {jwk["kid"] for jwk in json.loads(ring.jwks)["keys"]}


@pytest.mark.anyio
@pytest.mark.parametrize("with_next", [True, False])
async def test_revoking_the_active_key_needs_force_and_activates_a_replacement(
    store: Store, with_next: bool
) -> None:
    (active,) = await store.states()
    if with_next:
        store.clock.now = START + 530
        await store.advance()

    with pytest.raises(RotationRefused) as refused:
        await revoke(store.sessions, store.kek, POLICY, active, store.clock)
    assert refused.value.code == "rotation_refused"
    assert active in await published_kids(store)

    done = await revoke(store.sessions, store.kek, POLICY, active, store.clock,
                        force=True)
    rows = {row.kid: row for row in await store.rows()}
    assert done.previous_state == "active" and done.replacement in rows
    assert "fail verification from now on" in done.breaks[0]
    assert (rows[active].state, rows[active].sealed_private) == ("removed", None)
    assert rows[done.replacement].state == "active"  # type: ignore[index]
    assert active not in await published_kids(store)
    ring = await KeyManager(store.sessions, store.kek).reload()
    assert ring.require_signer().kid == done.replacement


@pytest.mark.anyio
async def test_revoking_a_next_key_needs_no_force_and_unknown_kids_are_named(
    store: Store,
) -> None:
    store.clock.now = START + 530
    await store.advance()
    (upcoming,) = [kid for kid, state in (await store.states()).items() if state == "next"]

    done = await revoke(store.sessions, store.kek, POLICY, upcoming, store.clock)
    with pytest.raises(UnknownKey) as unknown:
        await revoke(store.sessions, store.kek, POLICY, "no-such-kid", store.clock)

    assert (done.previous_state, done.replacement, done.breaks) == ("next", None, ())
    assert (unknown.value.code, unknown.value.kid) == ("unknown_kid", "no-such-kid")
    assert upcoming not in await published_kids(store)


# Rewrap.


@pytest.mark.anyio
async def test_rewrap_moves_every_key_to_the_new_kek(store: Store) -> None:
    store.clock.now = START + 530
    await store.advance()
    new_kek = KeyEncryptionKey.generate()

    done = await rewrap(store.sessions, store.kek, new_kek)

    rows = await store.rows()
    assert (done.old_kek_ids, done.new_kek_id, len(done.resealed)) == (
        (store.kek.kek_id,), new_kek.kek_id, 2)
    for row in rows:
        with pytest.raises(KeyEncryptionKeyError):
            store.kek.open(row.sealed_private or "", row.kid)
    ring = await KeyManager(store.sessions, new_kek).reload()
    assert ring.require_signer().sign_compact({"sub": "x"}, "JWT").count(".") == 2
    again = await rewrap(store.sessions, store.kek, new_kek)
    assert (again.resealed, len(again.unchanged)) == ((), 2)


@pytest.mark.anyio
async def test_rewrap_is_all_or_nothing(store: Store) -> None:
    store.clock.now = START + 530
    await store.advance()
    async with store.sessions() as session, session.begin():
        (victim, *_) = await all_keys(session)
        victim.sealed_private = f"v1.{store.kek.kek_id}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    before = [row.model_dump() for row in await store.rows()]

    with pytest.raises(KeyEncryptionKeyError) as caught:
        await rewrap(store.sessions, store.kek, KeyEncryptionKey.generate())

    assert caught.value.kid == victim.kid
    assert [row.model_dump() for row in await store.rows()] == before
    with pytest.raises(KeyEncryptionKeyError):
        await rewrap(store.sessions, store.kek, store.kek)


# No private member is ever published, for RSA and EC, through the whole lifecycle.


@pytest.mark.anyio
@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_no_private_member_is_ever_published(store: Store, alg: str) -> None:
    policy = replace(POLICY, signing_alg=alg)  # from ES256 to alg, then rotations of alg
    manager = KeyManager(store.sessions, store.kek)
    bodies, seen = [], set()
    for _ in range(260):
        store.clock.advance(10)
        await store.advance(policy)
        bodies.append((await manager.reload()).jwks)
        seen |= set((await store.states()).values())
    (active,) = [kid for kid, state in (await store.states()).items() if state == "active"]
    await revoke(store.sessions, store.kek, policy, active, store.clock, force=True)
    bodies.append((await manager.reload()).jwks)

    members = [set(jwk) for body in bodies for jwk in json.loads(body)["keys"]]
    assert seen == {"removed", "retired", "active", "next"}
    assert not any(PRIVATE_MEMBERS & names for names in members)
    assert {jwk["alg"] for body in bodies[-5:] for jwk in json.loads(body)["keys"]} == {alg}
