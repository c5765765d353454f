"""The signing-key schedule: when a key is published, activated, retired and removed.

With ``C`` the JWK set cache lifetime the issuer advertises (``Cache-Control: max-age``),
``M`` a propagation margin, ``T`` the longest token lifetime, ``L`` the clock leeway that
verifiers allow and ``P`` the rotation period:

- a ``next`` key is activated only once it has been published for ``C + M`` seconds, so
  every verifier that cached the set before the key appeared has refetched by then;
- the active key is rotated every ``P`` seconds: its successor is published at
  ``activated_at + P - (C + M)`` and activated at ``activated_at + P``; the old active key
  is retired at that same second;
- a retired key stays published until ``retired_at + T + L``: the last token it signed
  expires by ``retired_at + T`` and verifiers accept that token for ``L`` seconds more;
- when the configured algorithm differs from the active key's, the successor (of the new
  algorithm) is published at once and activated ``C + M`` later, not a period later.

:func:`plan` is pure: rows, policy and a time in, the steps and their due times out.
:func:`advance` applies the due steps in one transaction; its conditional updates let two
runs at once (cron and an issuer's own loop, or several issuers) perform each step once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .errors import InvalidPolicy, RotationConflict, RotationRefused, UnsupportedAlgorithm
from .jwk import SUPPORTED_ALGORITHMS
from .sealing import KeyEncryptionKey
from .store import (
    ACTIVE,
    NEXT,
    PUBLISHED_STATES,
    REMOVED,
    RETIRED,
    SIGNING_KEYS,
    SigningKey,
    all_keys,
    new_key,
)

Clock = Callable[[], float]

CREATE = "create"
PUBLISH = "publish"
ACTIVATE = "activate"
REMOVE = "remove"
DISCARD = "discard"
_RANK = {DISCARD: 0, REMOVE: 1, ACTIVATE: 2, PUBLISH: 3, CREATE: 3}
_PAST = {CREATE: "created", PUBLISH: "published", ACTIVATE: "activated", REMOVE: "removed",
         DISCARD: "discarded"}


@dataclass(frozen=True)
class Policy:
    """The rotation policy, in integer seconds; names follow the module docstring."""

    signing_alg: str
    jwks_max_age: int  # C
    propagation_margin: int  # M
    longest_token_ttl: int  # T
    clock_leeway: int  # L
    rotation_period: int  # P
    rsa_key_size: int = 2048

    def __post_init__(self) -> None:
        if self.signing_alg not in SUPPORTED_ALGORITHMS:
            raise UnsupportedAlgorithm(f"signing_alg must be one of {SUPPORTED_ALGORITHMS}")
        if min(self.jwks_max_age, self.propagation_margin, self.longest_token_ttl,
               self.clock_leeway) < 0:
            raise InvalidPolicy("key policy durations must not be negative")
        if self.rotation_period <= self.propagation:
            raise InvalidPolicy(
                f"the key rotation period ({self.rotation_period} s) must exceed the JWKS "
                f"max-age plus the propagation margin ({self.propagation} s)"
            )

    @property
    def propagation(self) -> int:
        """``C + M``: how long a key is published before it may sign."""
        return self.jwks_max_age + self.propagation_margin

    @property
    def retention(self) -> int:
        """``T + L``: how long a retired key stays published."""
        return self.longest_token_ttl + self.clock_leeway


@dataclass(frozen=True)
class Step:
    """One transition of the schedule.

    ``kid`` is None for a key not generated yet. ``follows`` marks a step that can only
    happen after an earlier one (the activation of a key still to be published, the
    removal of the active key once retired): it is shown in plans but never applied.
    ``breaks`` says which rule a forced step breaks.
    """

    action: str
    due_at: int
    alg: str
    kid: str | None = None
    retires: str | None = None
    follows: bool = False
    reason: str = ""
    breaks: str = ""

    def describe(self, *, done: bool = False) -> str:
        """One line for an operator: the plan form, or with ``done`` the past tense."""
        verb = _PAST[self.action] if done else self.action
        if self.action == ACTIVATE:
            retire = f"; {'retired' if done else 'retire'} {self.retires}" if self.retires else ""
            return f"{verb} {self.kid or 'the next key'}{retire}"
        if self.action == REMOVE:
            return f"{verb} {self.kid}"
        noun = "first active key" if self.action == CREATE else "next key"
        kid = f" {self.kid}" if self.kid else ""
        return f"{verb} {noun}{kid} ({self.alg})"


@dataclass(frozen=True)
class Outcome:
    """What one run of :func:`advance` did (or, for a dry run, would do), and what follows."""

    steps: tuple[Step, ...]
    plan: tuple[Step, ...]
    now: int
    dry_run: bool = False
    conflict: bool = False

    @property
    def upcoming(self) -> Step | None:
        """The earliest step of the schedule still to come after this run."""
        later = [step for step in self.plan if step not in self.steps]
        return later[0] if later else None


def plan(rows: Iterable[SigningKey], policy: Policy, now: int) -> list[Step]:
    """Every step the schedule holds for ``rows``, due or not, earliest first."""
    keys = [row for row in rows if row.state in PUBLISHED_STATES]
    steps = [_removal(row, policy) for row in keys if row.state == RETIRED]
    active, upcoming = _oldest(keys, ACTIVE), _oldest(keys, NEXT)
    if upcoming is not None and upcoming.alg != policy.signing_alg:
        # It never signed, so no token needs it: withdraw it and publish one of the new alg.
        reason = f"the configured algorithm is now {policy.signing_alg}"
        steps.append(Step(DISCARD, now, upcoming.alg, upcoming.kid, reason=reason))
        upcoming = None
    if active is not None:
        steps.extend(_rotation(active, upcoming, policy, now))
    elif upcoming is not None:
        steps.append(Step(ACTIVATE, published_at(upcoming) + policy.propagation, upcoming.alg,
                          upcoming.kid, reason="no key is active"))
    elif keys:
        # Keys are published but none signs: a new one must propagate like any other.
        steps.append(Step(PUBLISH, now, policy.signing_alg, reason="no key is active"))
        steps.append(Step(ACTIVATE, now + policy.propagation, policy.signing_alg, follows=True))
    else:
        # Nothing was ever published, so no cached key set can miss the first key.
        steps.append(Step(CREATE, now, policy.signing_alg, reason="no key exists"))
    return sorted(steps, key=lambda step: (step.due_at, _RANK[step.action]))


def due(steps: Iterable[Step], now: int) -> list[Step]:
    """The steps whose time has come: ``due_at <= now``; one second early is not due.

    They are ordered for one transaction, not by time: a discarded next key makes way for
    the one published after it, and the one-next index would refuse the other order.
    """
    ready = [step for step in steps if step.due_at <= now and not step.follows]
    return sorted(ready, key=lambda step: _RANK[step.action])


def select(
    rows: Sequence[SigningKey], policy: Policy, now: int, *, early: bool = False,
    force: bool = False,
) -> list[Step]:
    """The steps one run performs: the due ones, plus with ``early`` or ``force`` the next
    rotation step ahead of its time.

    An early step that would break the propagation rule is refused with
    :class:`RotationRefused` unless ``force``; a forced one says what it breaks.
    """
    steps = plan(rows, policy, now)
    chosen = due(steps, now)
    if early or force:
        ahead = _next_rotation_step(steps, chosen)
        if ahead is not None:
            chosen.append(_bring_forward(ahead, rows, policy, now, force=force))
    return chosen


async def advance(
    sessions: async_sessionmaker[AsyncSession],
    kek: KeyEncryptionKey,
    policy: Policy,
    clock: Clock,
    *,
    early: bool = False,
    force: bool = False,
    dry_run: bool = False,
) -> Outcome:
    """Apply every step that is due at ``clock()`` in one transaction.

    Idempotent and safe to run from several processes at once: each transition is a
    conditional UPDATE on the state the plan saw, and the partial unique indexes allow one
    active and one next key, so a run that lost a race changes nothing and says so.
    """
    now = int(clock())
    async with sessions() as session:
        rows = await all_keys(session)
    check_kek(rows, kek)
    chosen = select(rows, policy, now, early=early, force=force)
    if dry_run or not chosen:
        return Outcome(tuple(chosen), tuple(plan(rows, policy, now)), now, dry_run=dry_run)

    fresh = await _fresh_key(chosen, kek, policy, now)
    try:
        async with sessions() as session, session.begin():
            # Read again inside the transaction: another run may have moved on meanwhile.
            current = await all_keys(session)
            steps = select(current, policy, now, early=early, force=force)
            applied = [await _apply(session, step, current, fresh, kek, policy, now)
                       for step in steps]
    except (RotationConflict, IntegrityError):
        applied, conflict = [], True
    else:
        conflict = False
    async with sessions() as session:
        rows = await all_keys(session)
    return Outcome(tuple(applied), tuple(plan(rows, policy, now)), now, conflict=conflict)


def check_kek(rows: Iterable[SigningKey], kek: KeyEncryptionKey) -> None:
    """Refuse to work under a KEK that does not open the active key: keys it published
    would be sealed under a KEK that the issuers do not have."""
    active = next((row for row in rows if row.state == ACTIVE), None)
    if active is not None and active.sealed_private is not None:
        kek.open(active.sealed_private, active.kid)


def _rotation(
    active: SigningKey, upcoming: SigningKey | None, policy: Policy, now: int
) -> Iterable[Step]:
    migrating = active.alg != policy.signing_alg
    since = active.activated_at if active.activated_at is not None else active.created_at
    if upcoming is None:
        publish_at = since + policy.rotation_period - policy.propagation
        reason = "rotation period"
        if migrating:
            publish_at, reason = min(publish_at, now), f"algorithm change to {policy.signing_alg}"
        yield Step(PUBLISH, publish_at, policy.signing_alg, reason=reason)
        activate_at = _activation_due(since, max(publish_at, now), migrating, policy)
        yield Step(ACTIVATE, activate_at, policy.signing_alg, retires=active.kid, follows=True)
    else:
        activate_at = _activation_due(since, published_at(upcoming), migrating, policy)
        yield Step(ACTIVATE, activate_at, upcoming.alg, upcoming.kid, retires=active.kid)
    yield Step(REMOVE, activate_at + policy.retention, active.alg, active.kid, follows=True)


def _activation_due(since: int, published_at: int, migrating: bool, policy: Policy) -> int:
    """Published for ``C + M`` and, unless the algorithm changes, a period after ``since``."""
    propagated = published_at + policy.propagation
    return propagated if migrating else max(since + policy.rotation_period, propagated)


def _removal(row: SigningKey, policy: Policy) -> Step:
    retired_at = row.retired_at if row.retired_at is not None else published_at(row)
    return Step(REMOVE, retired_at + policy.retention, row.alg, row.kid)


def _next_rotation_step(steps: list[Step], chosen: list[Step]) -> Step | None:
    rotation = [step for step in steps if step.action in (PUBLISH, ACTIVATE, CREATE)]
    if not rotation or rotation[0] in chosen or rotation[0].follows:
        return None  # already due now, or it waits for a step that is due now
    return rotation[0]


def _bring_forward(
    step: Step, rows: Sequence[SigningKey], policy: Policy, now: int, *, force: bool
) -> Step:
    """The step moved to ``now``; refused unless forced when it breaks ``C + M``."""
    breaks = ""
    if step.action == ACTIVATE:
        row = next(row for row in rows if row.kid == step.kid)
        age, ready = now - published_at(row), published_at(row) + policy.propagation
        if now < ready:
            breaks = (
                f"{step.kid} has been published for {age} s, less than C + M = "
                f"{policy.propagation} s: caches may not have it yet, and verifiers that "
                f"cached the key set before it appeared reject its tokens until they refetch"
            )
            if not force:
                raise RotationRefused(
                    f"refused to activate {step.kid} before {utc(ready)}: {breaks}",
                    kid=step.kid, breaks=breaks,
                )
    return replace(step, due_at=now, reason="ahead of schedule", breaks=breaks)


async def _fresh_key(
    steps: list[Step], kek: KeyEncryptionKey, policy: Policy, now: int
) -> SigningKey | None:
    """Generate the key a publish step needs before the transaction: RSA takes a while."""
    wanted = next((step for step in steps if step.action in (PUBLISH, CREATE)), None)
    if wanted is None:
        return None
    state = ACTIVE if wanted.action == CREATE else NEXT
    return await new_key(policy.signing_alg, kek, now, state=state,
                         rsa_key_size=policy.rsa_key_size)


async def _apply(
    session: AsyncSession, step: Step, rows: list[SigningKey], fresh: SigningKey | None,
    kek: KeyEncryptionKey, policy: Policy, now: int,
) -> Step:
    if step.action in (PUBLISH, CREATE):
        if fresh is None or fresh.alg != step.alg:
            raise RotationConflict("the plan changed while a key was generated")
        session.add(fresh)
        await session.flush()  # the one-next / one-active index decides a race here
        return replace(step, kid=fresh.kid)
    if step.action == ACTIVATE:
        await _activate(session, step, rows, kek, policy, now)
        return step
    state = NEXT if step.action == DISCARD else RETIRED
    await update_if_state(session, step.kid, state, state=REMOVED, removed_at=now,
                       sealed_private=None)
    return step


async def _activate(
    session: AsyncSession, step: Step, rows: list[SigningKey], kek: KeyEncryptionKey,
    policy: Policy, now: int,
) -> None:
    """Retire the old active key, then activate the next one: the unique index on the
    active state would refuse the other order inside one transaction."""
    row = next(row for row in rows if row.kid == step.kid)
    if row.sealed_private is not None:
        kek.open(row.sealed_private, row.kid)  # refuse a key that this KEK cannot open
    if step.retires is not None:
        await update_if_state(session, step.retires, ACTIVE, state=RETIRED, retired_at=now)
    # The database checks C + M once more, unless the operator forced the step.
    propagated = () if step.breaks else (
        SIGNING_KEYS.c.published_at <= now - policy.propagation,)
    await update_if_state(session, step.kid, NEXT, *propagated, state=ACTIVE, activated_at=now)


async def update_if_state(
    session: AsyncSession, kid: str | None, seen: str, *conditions: ColumnElement[bool],
    **values: object,
) -> None:
    """UPDATE one key only if it is still in the state the plan saw (and ``conditions``
    hold); otherwise raise :class:`RotationConflict`, which rolls the transaction back."""
    statement = update(SIGNING_KEYS).where(
        SIGNING_KEYS.c.kid == kid, SIGNING_KEYS.c.state == seen, *conditions
    )
    result = await session.execute(statement.values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise RotationConflict(f"key {kid} changed while it was being moved on", kid=kid)


def _oldest(rows: list[SigningKey], state: str) -> SigningKey | None:
    matching = sorted((row for row in rows if row.state == state), key=published_at)
    return matching[0] if matching else None


def utc(timestamp: int) -> str:
    """``timestamp`` as an operator reads it: ``2027-01-02 10:00:00 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def published_at(row: SigningKey) -> int:
    """When ``row`` entered the published set (its creation time for old rows)."""
    return row.published_at if row.published_at is not None else row.created_at
