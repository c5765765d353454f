"""Valid tokens, claim boundaries on an injected clock, scopes and roles, configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from verifier_testkit import AUDIENCE, ISSUER, NOW, Clock, Keys, claims, sign

import issuer.verifier
from issuer.verifier import (
    ConfigurationError,
    KeySet,
    TokenError,
    TokenVerifier,
    VerifiedToken,
)

pytestmark = pytest.mark.anyio

ALL_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]


def fixed_verifier(keys: Keys, clock: Clock, **options: Any) -> TokenVerifier:
    options.setdefault("issuer", ISSUER)
    options.setdefault("audience", AUDIENCE)
    options.setdefault("key_set", KeySet.from_jwks(keys.jwks()))
    return TokenVerifier(clock=clock, **options)


def refusal(verifier: TokenVerifier, token: str, **requirements: Any) -> tuple[str, str]:
    with pytest.raises(TokenError) as caught:
        verifier.verify_sync(token, **requirements)
    return caught.value.code, caught.value.claim


@pytest.mark.parametrize(
    ("alg", "kid", "key_name"),
    [
        ("RS256", "rsa-1", "rsa"),
        ("RS384", "rsa-1", "rsa"),
        ("RS512", "rsa-1", "rsa"),
        ("PS256", "rsa-1", "rsa"),
        ("ES256", "ec-256", "ec256"),
        ("ES384", "ec-384", "ec384"),
    ],
)
async def test_each_algorithm_verifies(keys, clock, alg, kid, key_name):
    verifier = fixed_verifier(keys, clock, algorithms=ALL_ALGORITHMS)
    token = await verifier.verify(sign(claims(), getattr(keys, key_name), kid, alg))
    assert token.header["alg"] == alg
    assert token.subject == "user-42"


async def test_the_result_exposes_claims_scopes_and_roles(keys, clock):
    verifier = fixed_verifier(keys, clock)
    token = await verifier.verify(sign(claims(roles=["user", "admin"], scope="a  b"), keys.rsa))
    assert isinstance(token, VerifiedToken)
    assert token.claims["iss"] == ISSUER
    assert token.scopes == {"a", "b"}
    assert token.roles == {"user", "admin"}
    assert (token.subject, token.client_id, token.expires_at) == ("user-42", "web", NOW + 300)
    with pytest.raises(TypeError):
        token.claims["sub"] = "admin"  # type: ignore[index]


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"])
def test_typ_is_compared_case_insensitively(keys, clock, typ):
    verifier = fixed_verifier(keys, clock)
    assert verifier.verify_sync(sign(claims(), keys.rsa, typ=typ)).subject == "user-42"


def test_typ_check_can_be_switched_off_or_changed(keys, clock):
    assert fixed_verifier(keys, clock, typ=None).verify_sync(sign(claims(), keys.rsa, typ="JWT"))
    id_tokens = fixed_verifier(keys, clock, typ="JWT")
    assert id_tokens.verify_sync(sign(claims(), keys.rsa, typ="jwt"))
    assert refusal(id_tokens, sign(claims(), keys.rsa)) == ("invalid_token", "typ")


@pytest.mark.parametrize(
    ("configured", "aud"),
    [
        (AUDIENCE, AUDIENCE),
        (AUDIENCE, ["other", AUDIENCE]),
        (["other", AUDIENCE], AUDIENCE),
        (("a", "b"), ["c", "b"]),
    ],
)
def test_audience_matches_any_configured(keys, clock, configured, aud):
    verifier = fixed_verifier(keys, clock, audience=configured)
    assert verifier.verify_sync(sign(claims(aud=aud), keys.rsa)).claims["aud"] == aud


@pytest.mark.parametrize(
    ("leeway", "exp_offset", "outcome"),
    [
        (0, 0, ("token_expired", "exp")),
        (0, -1, ("token_expired", "exp")),
        (0, 1, None),
        (0, 0.5, None),
        (60, -59, None),
        (60, -60, ("token_expired", "exp")),
        (60, -61, ("token_expired", "exp")),
    ],
)
def test_exp_boundaries(keys, clock, leeway, exp_offset, outcome):
    verifier = fixed_verifier(keys, clock, leeway=leeway)
    token = sign(claims(exp=NOW + exp_offset, iat=NOW - 600), keys.rsa)
    if outcome is None:
        assert verifier.verify_sync(token).expires_at == NOW + exp_offset
    else:
        assert refusal(verifier, token) == outcome


@pytest.mark.parametrize("name", ["nbf", "iat"])
@pytest.mark.parametrize(
    ("leeway", "offset", "accepted"),
    [(0, 0, True), (0, 1, False), (60, 60, True), (60, 61, False), (60, 59, True)],
)
def test_nbf_and_iat_boundaries(keys, clock, name, leeway, offset, accepted):
    verifier = fixed_verifier(keys, clock, leeway=leeway)
    token = sign(claims(**{name: NOW + offset, "exp": NOW + 3600}), keys.rsa)
    if accepted:
        assert verifier.verify_sync(token).claims[name] == NOW + offset
    else:
        assert refusal(verifier, token) == ("invalid_token", name)


def test_the_clock_is_read_at_each_verification(keys, clock):
    verifier = fixed_verifier(keys, clock, leeway=0)
    token = sign(claims(exp=NOW + 10), keys.rsa)
    assert verifier.verify_sync(token)
    clock.advance(10)
    assert refusal(verifier, token) == ("token_expired", "exp")


@pytest.mark.parametrize(
    ("requirements", "outcome"),
    [
        ({"required_scopes": ["orders:read"]}, None),
        ({"required_scopes": "orders:read profile"}, None),
        ({"required_scopes": ["orders:read", "orders:write"]}, ("insufficient_scope", "scope")),
        ({"required_scopes": ["orders"]}, ("insufficient_scope", "scope")),
        ({"required_roles": ["user"]}, None),
        ({"required_roles": ["admin"]}, ("insufficient_scope", "roles")),
        ({"required_roles": "User"}, ("insufficient_scope", "roles")),
    ],
)
def test_required_scopes_and_roles(keys, clock, requirements, outcome):
    verifier = fixed_verifier(keys, clock)
    token = sign(claims(), keys.rsa)
    if outcome is None:
        assert verifier.verify_sync(token, **requirements)
    else:
        assert refusal(verifier, token, **requirements) == outcome


def test_a_token_without_scope_or_roles_grants_none(keys, clock):
    verifier = fixed_verifier(keys, clock)
    token = sign(claims(scope=None, roles=None), keys.rsa)
    assert verifier.verify_sync(token).scopes == frozenset()
    assert refusal(verifier, token, required_scopes=["a"]) == ("insufficient_scope", "scope")
    assert refusal(verifier, token, required_roles=["a"]) == ("insufficient_scope", "roles")


def test_a_larger_size_limit_can_be_configured(keys, clock):
    token = sign(claims(pad="x" * 20_000), keys.rsa)
    assert refusal(fixed_verifier(keys, clock), token) == ("invalid_token", "token")
    assert fixed_verifier(keys, clock, max_token_size=64 * 1024).verify_sync(token)


@pytest.mark.parametrize(
    "options",
    [
        {"issuer": None},
        {"issuer": ""},
        {"audience": None},
        {"audience": ""},
        {"audience": []},
        {"audience": [""]},
        {"audience": [AUDIENCE, 1]},
        {"algorithms": []},
        {"algorithms": ["HS256"]},
        {"algorithms": ["RS256", "HS256"]},
        {"algorithms": ["none"]},
        {"algorithms": ["RS256", "none"]},
        {"algorithms": ["EdDSA"]},
        {"algorithms": None},
        {"leeway": -1},
        {"leeway": float("nan")},
        {"leeway": True},
        {"max_token_size": 0},
        {"typ": ""},
        {"key_set": object()},
    ],
)
def test_configuration_errors(keys, clock, options):
    with pytest.raises(ConfigurationError) as caught:
        fixed_verifier(keys, clock, **options)
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "configuration_error"


def test_constructor_without_issuer_or_audience():
    with pytest.raises(ConfigurationError, match="audience"):
        TokenVerifier(issuer=ISSUER)
    with pytest.raises(ConfigurationError, match="issuer"):
        TokenVerifier(audience=AUDIENCE)


def test_the_public_names_are_exported():
    assert sorted(issuer.verifier.__all__) == [
        "ConfigurationError",
        "KeySet",
        "KeySetUnavailable",
        "KeySource",
        "PublicKey",
        "RemoteKeySet",
        "TokenError",
        "TokenVerifier",
        "VerifiedToken",
        "VerifierError",
    ]
    for name in issuer.verifier.__all__:
        assert getattr(issuer.verifier, name).__doc__


def test_the_library_imports_no_server_code():
    root = Path(__file__).resolve().parents[2]
    assert (root / "issuer" / "__init__.py").read_text().strip() == ""
    script = (
        "import sys, issuer.verifier, issuer.verifier.starlette, issuer.verifier.__main__\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('issuer', 'keys', 'sqlalchemy', 'sqlmodel', 'joserfc', 'jwt')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root
    )
    loaded = eval(result.stdout)  # noqa: S307 - our own subprocess's repr of a list
    assert all(name == "issuer" or name.startswith("issuer.verifier") for name in loaded)
