"""The remote key set: caching, revalidation, cooldown, failures, limits."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from verifier_testkit import (
    AUDIENCE,
    DISCOVERY_URL,
    ISSUER,
    JWKS_URL,
    Clock,
    FakeIssuer,
    Keys,
    claims,
    public_jwk,
    sign,
)

from issuer.verifier import KeySet, KeySetUnavailable, RemoteKeySet, TokenError, TokenVerifier

pytestmark = pytest.mark.anyio


def make_key_set(fake_issuer: FakeIssuer, clock: Clock, **options: object) -> RemoteKeySet:
    return RemoteKeySet(JWKS_URL, transport=fake_issuer.transport, clock=clock, **options)


def make_verifier(key_set: RemoteKeySet, clock: Clock) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, key_set=key_set, clock=clock)


def far_future_token(keys: Keys, kid: str = "rsa-1", key: object = None) -> str:
    return sign(claims(exp=int(clock_end())), key or keys.rsa, kid)


def clock_end() -> float:
    return 4_000_000_000


async def test_steady_state_makes_no_further_calls(verifier, fake_issuer, keys):
    token = sign(claims(), keys.rsa)
    await verifier.verify(token)
    assert fake_issuer.urls == [JWKS_URL]
    for _ in range(10_000):
        await verifier.verify(token)
    assert fake_issuer.urls == [JWKS_URL]


async def test_concurrent_unknown_kid_shares_one_fetch_per_cooldown(
    verifier, fake_issuer, keys, clock
):
    await verifier.verify(far_future_token(keys))
    clock.advance(31)  # the first fetch's cooldown is over; the set is still fresh
    unknown = sign(claims(exp=int(clock_end())), keys.rsa, "rotated-in-later")

    async def attempt() -> TokenError:
        with pytest.raises(TokenError) as caught:
            await verifier.verify(unknown)
        return caught.value

    errors = await asyncio.gather(*(attempt() for _ in range(200)))
    assert {(e.code, e.claim) for e in errors} == {("invalid_token", "kid")}
    assert fake_issuer.count() == 2

    clock.advance(29)
    await asyncio.gather(*(attempt() for _ in range(200)))
    assert fake_issuer.count() == 2

    clock.advance(1)
    await asyncio.gather(*(attempt() for _ in range(200)))
    assert fake_issuer.count() == 3


async def test_first_fetch_is_shared_by_concurrent_callers(verifier, fake_issuer, keys):
    token = sign(claims(), keys.rsa)
    results = await asyncio.gather(*(verifier.verify(token) for _ in range(200)))
    assert {result.subject for result in results} == {"user-42"}
    assert fake_issuer.urls == [JWKS_URL]


async def test_max_age_is_honoured(fake_issuer, keys, clock):
    fake_issuer.cache_control = "public, max-age=120"
    key_set = make_key_set(fake_issuer, clock, cooldown=1000)
    await key_set.resolve("rsa-1")
    clock.advance(119)
    await key_set.resolve("rsa-1")
    assert fake_issuer.count() == 1
    clock.advance(1)
    assert await key_set.resolve("rsa-1")
    assert fake_issuer.count() == 2


@pytest.mark.parametrize(
    ("cache_control", "lifetime"),
    [
        ("public, max-age=5", 60),  # raised to min_cache
        ("max-age=100000", 600),  # lowered to max_cache
        ("no-cache", 60),
        ("no-store, max-age=300", 60),
        ("private", 200),  # no max-age: default_cache
        ("", 200),
    ],
)
async def test_lifetime_is_clamped(fake_issuer, clock, cache_control, lifetime):
    fake_issuer.cache_control = cache_control
    key_set = make_key_set(
        fake_issuer, clock, min_cache=60, max_cache=600, default_cache=200, cooldown=0
    )
    await key_set.resolve("rsa-1")
    clock.advance(lifetime - 1)
    await key_set.resolve("rsa-1")
    assert fake_issuer.count() == 1
    clock.advance(1)
    await key_set.resolve("rsa-1")
    assert fake_issuer.count() == 2


async def test_age_header_shortens_freshness(fake_issuer, clock):
    answer = fake_issuer.jwks_response
    fake_issuer.jwks_answer = lambda request: _with_header(answer(request), "Age", "100")
    key_set = make_key_set(fake_issuer, clock)
    await key_set.resolve("rsa-1")
    clock.advance(199)
    await key_set.resolve("rsa-1")
    assert fake_issuer.count() == 1
    clock.advance(1)
    await key_set.resolve("rsa-1")
    assert fake_issuer.count() == 2


def _with_header(response: httpx.Response, name: str, value: str) -> httpx.Response:
    response.headers[name] = value
    return response


async def test_revalidation_with_etag_and_304(fake_issuer, clock):
    key_set = make_key_set(fake_issuer, clock)
    await key_set.resolve("rsa-1")
    first = fake_issuer.requests[0]
    assert "If-None-Match" not in first.headers

    clock.advance(300)
    assert [key.kid for key in await key_set.resolve("rsa-1")] == ["rsa-1"]
    second = fake_issuer.requests[1]
    etag = fake_issuer.jwks_response(first).headers["ETag"]
    assert second.headers["If-None-Match"] == etag

    clock.advance(299)  # the 304 renewed freshness for another max-age
    await key_set.resolve("ec-256")
    assert fake_issuer.count() == 2
    clock.advance(1)
    await key_set.resolve("ec-256")
    assert fake_issuer.count() == 3


async def test_a_new_key_after_rotation_is_picked_up(verifier, fake_issuer, keys, clock):
    await verifier.verify(far_future_token(keys))
    new_key = keys.other_rsa
    fake_issuer.jwks = {"keys": [*fake_issuer.jwks["keys"], public_jwk(new_key, "rsa-2")]}
    clock.advance(30)
    token = await verifier.verify(sign(claims(exp=int(clock_end())), new_key, "rsa-2"))
    assert token.header["kid"] == "rsa-2"
    assert fake_issuer.count() == 2


async def test_a_removed_key_is_refused_once_the_set_is_refreshed(
    verifier, fake_issuer, keys, clock
):
    token = far_future_token(keys)
    await verifier.verify(token)
    fake_issuer.jwks = {"keys": fake_issuer.jwks["keys"][1:]}
    clock.advance(299)
    await verifier.verify(token)  # still cached
    clock.advance(1)
    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert (caught.value.code, caught.value.claim) == ("invalid_token", "kid")
    assert fake_issuer.count() == 2


def _timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("too slow", request=request)


FAILURES = {
    "500": lambda request: httpx.Response(500),
    "timeout": _timeout,
    "bad json": lambda request: httpx.Response(200, content=b"{not json"),
    "empty keys": lambda request: httpx.Response(200, json={"keys": []}),
    "keys not a list": lambda request: httpx.Response(200, json={"keys": "x"}),
    "not an object": lambda request: httpx.Response(200, json=[]),
    "no usable key": lambda request: httpx.Response(200, json={"keys": [{"kty": "oct"}]}),
    "nan": lambda request: httpx.Response(200, content=b'{"keys": [], "x": NaN}'),
}


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_failures_keep_the_last_good_set(fake_issuer, keys, clock, failure):
    key_set = make_key_set(fake_issuer, clock, cooldown=30, max_stale=1000)
    verifier = make_verifier(key_set, clock)
    token = far_future_token(keys)
    await verifier.verify(token)

    fake_issuer.jwks_answer = FAILURES[failure]
    clock.advance(300)  # expired: one failed refetch, then the stale set serves
    assert (await verifier.verify(token)).subject == "user-42"
    assert fake_issuer.count() == 2
    clock.advance(29)  # retries wait for the cooldown
    await verifier.verify(token)
    assert fake_issuer.count() == 2

    fake_issuer.jwks_answer = None
    fake_issuer.jwks = {"keys": [public_jwk(keys.other_rsa, "rsa-2")]}
    clock.advance(1)
    await verifier.verify(sign(claims(exp=int(clock_end())), keys.other_rsa, "rsa-2"))
    assert fake_issuer.count() == 3
    with pytest.raises(TokenError) as caught:  # the new set replaced the old one
        await verifier.verify(token)
    assert (caught.value.code, caught.value.claim) == ("invalid_token", "kid")


@pytest.mark.parametrize("failure", ["500", "timeout", "empty keys"])
async def test_staleness_beyond_the_maximum_is_an_error(fake_issuer, keys, clock, failure):
    key_set = make_key_set(fake_issuer, clock, cooldown=30, max_stale=1000)
    verifier = make_verifier(key_set, clock)
    token = far_future_token(keys)
    await verifier.verify(token)
    fake_issuer.jwks_answer = FAILURES[failure]

    clock.advance(300 + 999)
    await verifier.verify(token)
    clock.advance(1)
    with pytest.raises(KeySetUnavailable) as caught:
        await verifier.verify(token)
    assert (caught.value.code, caught.value.claim) == ("temporarily_unavailable", "kid")
    calls = fake_issuer.count()
    with pytest.raises(KeySetUnavailable):  # the error is not cached: it tries again
        await verifier.verify(token)
    assert fake_issuer.count() == calls + 1


async def test_no_set_at_all_is_unavailable_and_not_cached(fake_issuer, keys, clock):
    fake_issuer.jwks_answer = FAILURES["500"]
    verifier = make_verifier(make_key_set(fake_issuer, clock), clock)
    token = sign(claims(), keys.rsa)
    for attempt in range(1, 4):
        with pytest.raises(KeySetUnavailable):
            await verifier.verify(token)
        assert fake_issuer.count() == attempt
    fake_issuer.jwks_answer = None
    assert (await verifier.verify(token)).subject == "user-42"
    assert fake_issuer.count() == 4


async def test_the_whole_fetch_is_bounded_in_time(fake_issuer, clock):
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return httpx.Response(200, json={"keys": []})

    fake_issuer.jwks_answer = slow
    key_set = make_key_set(fake_issuer, clock, timeout=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(KeySetUnavailable):
        await key_set.resolve("rsa-1")
    assert loop.time() - started < 2


@pytest.mark.parametrize("location", ["https://evil.example/jwks.json", "/other-jwks.json"])
async def test_redirects_are_not_followed(fake_issuer, clock, location):
    fake_issuer.jwks_answer = lambda request: httpx.Response(302, headers={"Location": location})
    key_set = make_key_set(fake_issuer, clock)
    with pytest.raises(KeySetUnavailable):
        await key_set.resolve("rsa-1")
    assert fake_issuer.urls == [JWKS_URL]


async def test_an_oversized_answer_is_refused(fake_issuer, keys, clock):
    padding = "x" * (600 * 1024)
    big = {**keys.jwks(), "padding": padding}
    fake_issuer.jwks_answer = lambda request: httpx.Response(200, json=big)
    key_set = make_key_set(fake_issuer, clock)
    with pytest.raises(KeySetUnavailable):
        await key_set.resolve("rsa-1")


async def test_an_oversized_streamed_answer_is_refused(fake_issuer, keys, clock):
    async def chunks():
        yield json.dumps(keys.jwks())[:-1].encode() + b', "padding": "'
        for _ in range(100):
            yield b"x" * 10_000
        yield b'"}'

    fake_issuer.jwks_answer = lambda request: httpx.Response(200, content=chunks())
    key_set = make_key_set(fake_issuer, clock, max_size=100_000)
    with pytest.raises(KeySetUnavailable):
        await key_set.resolve("rsa-1")


async def test_unusable_entries_are_skipped(fake_issuer, keys, clock):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    good = public_jwk(keys.rsa, "good")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point
    p521 = ec.generate_private_key(ec.SECP521R1())
    off_curve = {**public_jwk(keys.ec256, "off-curve"), "y": public_jwk(keys.ec256, "x")["x"]}
    entries = [
        {"kty": "oct", "kid": "oct", "k": "c2VjcmV0"},
        {"kty": "OKP", "kid": "okp", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg"},
        public_jwk(p521, "p521"),
        public_jwk(keys.other_rsa, "enc", use="enc"),
        public_jwk(keys.other_rsa, "ops", key_ops=["encrypt"]),
        public_jwk(keys.other_rsa, "hs", alg="HS256"),
        public_jwk(keys.other_rsa, "rsa-as-es", alg="ES256"),
        public_jwk(small, "small"),
        off_curve,
        {**public_jwk(keys.ec256, "short-x"), "x": "AAAA"},
        {**public_jwk(keys.other_rsa, "no-n"), "n": None},
        {**public_jwk(keys.other_rsa, "padded-n"), "n": public_jwk(keys.rsa, "n")["n"] + "=="},
        {**public_jwk(keys.other_rsa, "even-e"), "e": "AQAA"},
        {k: v for k, v in public_jwk(keys.other_rsa, "x").items() if k != "kid"},
        {**public_jwk(keys.other_rsa, "x"), "kid": 7},
        "not an object",
        good,
    ]
    fake_issuer.jwks = {"keys": entries}
    key_set = make_key_set(fake_issuer, clock)
    usable = await key_set.refresh()
    assert usable.kids == {"good"}
    assert len(usable) == 1


async def test_private_members_are_never_used(keys):
    from cryptography.hazmat.primitives.asymmetric import rsa

    jwk = {**public_jwk(keys.rsa, "with-private"), "d": "AQAB", "p": "AQAB"}
    key_set = KeySet.from_jwks({"keys": [jwk]})
    (key,) = key_set.find("with-private")
    assert isinstance(key.key, rsa.RSAPublicKey)


async def test_discovery_is_checked_and_used_once(fake_issuer, keys, clock):
    key_set = RemoteKeySet.from_issuer(ISSUER, transport=fake_issuer.transport, clock=clock)
    verifier = make_verifier(key_set, clock)
    await verifier.verify(far_future_token(keys))
    clock.advance(300)
    await verifier.verify(far_future_token(keys))
    assert fake_issuer.urls == [DISCOVERY_URL, JWKS_URL, JWKS_URL]
    assert key_set.jwks_uri == JWKS_URL


@pytest.mark.parametrize(
    "discovery",
    [
        {"issuer": ISSUER + "/", "jwks_uri": JWKS_URL},
        {"issuer": ISSUER.upper(), "jwks_uri": JWKS_URL},
        {"issuer": "https://evil.example", "jwks_uri": JWKS_URL},
        {"jwks_uri": JWKS_URL},
        {"issuer": ISSUER},
        {"issuer": ISSUER, "jwks_uri": "http://issuer.example/.well-known/jwks.json"},
        {"issuer": ISSUER, "jwks_uri": 12},
    ],
)
async def test_a_bad_discovery_document_is_a_failed_fetch(fake_issuer, clock, discovery):
    fake_issuer.discovery = discovery
    key_set = RemoteKeySet.from_issuer(ISSUER, transport=fake_issuer.transport, clock=clock)
    with pytest.raises(KeySetUnavailable):
        await key_set.resolve("rsa-1")
    assert fake_issuer.urls == [DISCOVERY_URL]
    assert key_set.jwks_uri is None


async def test_an_injected_client_is_used(fake_issuer, clock):
    async with httpx.AsyncClient(transport=fake_issuer.transport) as client:
        key_set = RemoteKeySet(JWKS_URL, client=client, clock=clock)
        assert await key_set.resolve("rsa-1")
    assert fake_issuer.urls == [JWKS_URL]


def test_sync_callers_share_the_cache(fake_issuer, keys, clock):
    key_set = make_key_set(fake_issuer, clock)
    verifier = make_verifier(key_set, clock)
    try:
        token = sign(claims(), keys.rsa)
        for _ in range(100):
            assert verifier.verify_sync(token).subject == "user-42"
        assert fake_issuer.urls == [JWKS_URL]
        with pytest.raises(TokenError) as caught:
            verifier.verify_sync(sign(claims(), keys.rsa, "unknown"))
        assert (caught.value.code, caught.value.claim) == ("invalid_token", "kid")
        assert fake_issuer.urls == [JWKS_URL]
    finally:
        key_set.close()


def test_a_fixed_key_set_serves_sync_and_async(keys, clock):
    key_set = KeySet.from_jwks(json.dumps(keys.jwks()))
    verifier = make_verifier(key_set, clock)  # type: ignore[arg-type]
    token = sign(claims(), keys.ec256, "ec-256", "ES256")
    assert verifier.verify_sync(token).subject == "user-42"
    assert asyncio.run(verifier.verify(token)).subject == "user-42"


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"jwks_uri": JWKS_URL, "issuer": ISSUER},
        {"jwks_uri": "ftp://issuer.example/jwks"},
        {"jwks_uri": "/relative"},
        {"jwks_uri": JWKS_URL, "cooldown": -1},
        {"jwks_uri": JWKS_URL, "min_cache": 10, "max_cache": 5},
        {"jwks_uri": JWKS_URL, "timeout": 0},
        {"jwks_uri": JWKS_URL, "max_stale": float("inf")},
        {"jwks_uri": JWKS_URL, "max_size": 0},
    ],
)
def test_key_set_configuration_errors(options):
    from issuer.verifier import ConfigurationError

    with pytest.raises(ConfigurationError):
        RemoteKeySet(**options)
