"""Forged and malformed tokens: each refused with its code and claim, without stray calls."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from verifier_testkit import (
    AUDIENCE,
    ISSUER,
    JWKS_URL,
    Keys,
    b64,
    claims,
    public_jwk,
    sign,
    sign_raw,
)

from issuer.verifier import TokenError, TokenVerifier

pytestmark = pytest.mark.anyio

HEADER = {"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"}
EC_HEADER = {"alg": "ES256", "kid": "ec-256", "typ": "at+jwt"}


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    segments = (json.dumps(header).encode(), json.dumps(payload).encode(), signature)
    return ".".join(b64(segment) for segment in segments)


def hs256(header_alg: str, secret: bytes) -> str:
    header = {**HEADER, "alg": header_alg}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def public_pem(keys: Keys) -> bytes:
    return keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_der(keys: Keys) -> bytes:
    return keys.rsa.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def es256_with_signature(keys: Keys, make: Callable[[bytes, Keys], bytes]) -> str:
    signing_input = f"{b64(json.dumps(EC_HEADER).encode())}.{b64(json.dumps(claims()).encode())}"
    return f"{signing_input}.{b64(make(signing_input.encode(), keys))}"


def der_signature(data: bytes, keys: Keys) -> bytes:
    from cryptography.hazmat.primitives import hashes

    digest = hashlib.sha256(data).digest()
    return keys.ec256.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def raw_signature(data: bytes, keys: Keys) -> bytes:
    return base64.urlsafe_b64decode(
        sign_raw(EC_HEADER, claims(), keys.ec256, "ES256").split(".")[2] + "=="
    )


def tweak_last_char(token: str, part: int) -> str:
    """Change the unused low bits of a segment's last character: same bytes if lenient."""
    segments = token.split(".")
    segment = segments[part]
    assert len(segment) % 4 in (2, 3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    segments[part] = segment[:-1] + alphabet[alphabet.index(segment[-1]) + 1]
    return ".".join(segments)


def with_length(token: str, part: int, remainders: tuple[int, ...]) -> bool:
    return len(token.split(".")[part]) % 4 in remainders


def signed_with_attacker_key(**header: Any) -> str:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return sign(claims(), attacker, "rsa-1", **header)


def rs256_token_header_part_tweak(keys: Keys) -> str:
    # find a header whose segment length leaves unused bits, then tweak them
    for pad in range(3):
        token = sign(claims(), keys.rsa, "rsa-1", x="y" * pad)
        if with_length(token, 0, (2, 3)):
            return tweak_last_char(token, 0)
    raise AssertionError("no suitable header length")


def rs256_signature_tweak(keys: Keys) -> str:
    token = sign(claims(), keys.rsa)
    assert with_length(token, 2, (2,))  # 256 bytes → 342 characters
    return tweak_last_char(token, 2)


def payload_raw(text: bytes) -> Callable[[Keys], str]:
    return lambda keys: sign_raw(HEADER, text, keys.rsa)


def date_text(name: str, literal: str) -> bytes:
    body = json.dumps(claims(**{name: None}))[:-1]
    return f'{body}, "{name}": {literal}}}'.encode()


CASES: dict[str, tuple[Callable[[Keys], str], str, str]] = {}


def case(name: str, make: Callable[[Keys], str], claim: str, code: str = "invalid_token") -> None:
    CASES[name] = (make, code, claim)


for _alg in ("none", "None", "NONE", "nOnE"):
    case(
        f"alg {_alg}, empty signature",
        lambda keys, a=_alg: unsigned({**HEADER, "alg": a}, claims()),
        "alg",
    )
    case(
        f"alg {_alg}, junk signature",
        lambda keys, a=_alg: unsigned({**HEADER, "alg": a}, claims(), b"junk"),
        "alg",
    )
case("alg missing", lambda keys: unsigned({"kid": "rsa-1", "typ": "at+jwt"}, claims(), b"x"), "alg")
case("alg not a string", lambda keys: unsigned({**HEADER, "alg": ["RS256"]}, claims(), b"x"), "alg")
case("HS256 with the PEM public key", lambda keys: hs256("HS256", public_pem(keys)), "alg")
case("HS256 with the DER public key", lambda keys: hs256("HS256", public_der(keys)), "alg")
case(
    "HS256 with the JWK JSON",
    lambda keys: hs256("HS256", json.dumps(public_jwk(keys.rsa, "rsa-1")).encode()),
    "alg",
)
case(
    "HS256 with the JWK n",
    lambda keys: hs256("HS256", public_jwk(keys.rsa, "x")["n"].encode()),
    "alg",
)
case("RS1 (not allowed)", lambda keys: unsigned({**HEADER, "alg": "RS1"}, claims(), b"x"), "alg")
case("PS256 not in the allowlist", lambda keys: sign(claims(), keys.rsa, alg="PS256"), "alg")
case(
    "embedded jwk",
    lambda keys: signed_with_attacker_key(
        jwk=public_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048), "a")
    ),
    "jwk",
)
case("jku", lambda keys: signed_with_attacker_key(jku="https://evil.example/jwks.json"), "jku")
case("x5u", lambda keys: signed_with_attacker_key(x5u="https://evil.example/cert.pem"), "x5u")
case("x5c", lambda keys: signed_with_attacker_key(x5c=["MIIB"]), "x5c")
case("crit", lambda keys: sign(claims(), keys.rsa, crit=["exp"]), "crit")
case(
    "crit b64",
    lambda keys: sign_raw({**HEADER, "crit": ["b64"], "b64": False}, claims(), keys.rsa),
    "crit",
)
case(
    "unencoded payload (b64 false)",
    lambda keys: sign(claims(), keys.rsa, crit=["b64"], b64=False),
    "token",
)
case("enc header", lambda keys: sign(claims(), keys.rsa, enc="A256GCM"), "enc")
case("zip header", lambda keys: sign(claims(), keys.rsa, zip="DEF"), "zip")
case(
    "ES256 all zeros", lambda keys: es256_with_signature(keys, lambda d, k: bytes(64)), "signature"
)
case(
    "ES256 63 bytes",
    lambda keys: es256_with_signature(keys, lambda d, k: raw_signature(d, k)[:63]),
    "signature",
)
case(
    "ES256 65 bytes",
    lambda keys: es256_with_signature(keys, lambda d, k: raw_signature(d, k) + b"\x00"),
    "signature",
)
case("ES256 DER-encoded", lambda keys: es256_with_signature(keys, der_signature), "signature")
case(
    "ES256 r and s swapped",
    lambda keys: es256_with_signature(
        keys, lambda d, k: raw_signature(d, k)[32:] + raw_signature(d, k)[:32]
    ),
    "signature",
)
case("signed by another key", lambda keys: sign(claims(), keys.other_rsa), "signature")
case(
    "payload swapped",
    lambda keys: ".".join(
        [
            *sign(claims(), keys.rsa).split(".")[:1],
            sign(claims(sub="admin"), keys.other_rsa).split(".")[1],
            sign(claims(), keys.rsa).split(".")[2],
        ]
    ),
    "signature",
)
case("empty signature", lambda keys: sign(claims(), keys.rsa).rsplit(".", 1)[0] + ".", "signature")
for _kid in ("../../etc/passwd", "' OR '1'='1' --", "rsa-1\x00", "RSA-1", " rsa-1", "x" * 256):
    case(f"kid {_kid[:20]!r}", lambda keys, k=_kid: sign(claims(), keys.rsa, k), "kid")
for _kid in ("x" * 257, "x" * 10_000, "", 1, None, ["rsa-1"], {"kid": "rsa-1"}, True):
    case(
        f"kid {str(_kid)[:12]!r} refused before any fetch",
        lambda keys, k=_kid: sign_raw({**HEADER, "kid": k}, claims(), keys.rsa),
        "kid",
    )
case(
    "kid missing",
    lambda keys: sign_raw({"alg": "RS256", "typ": "at+jwt"}, claims(), keys.rsa),
    "kid",
)
for _name, _value in (
    ("iss", "x" + ISSUER),
    ("iss", ISSUER + "/"),
    ("iss", ISSUER.upper()),
    ("iss", ISSUER[:-1]),
    ("iss", [ISSUER]),
    ("aud", "x" + AUDIENCE),
    ("aud", AUDIENCE + "x"),
    ("aud", AUDIENCE.upper()),
    ("aud", AUDIENCE[1:]),
    ("aud", [AUDIENCE + " "]),
    ("aud", []),
    ("aud", [AUDIENCE, 1]),
    ("aud", {"aud": AUDIENCE}),
    ("iss", None),
    ("aud", None),
):
    case(
        f"{_name} {_value!r}",
        lambda keys, n=_name, v=_value: sign_raw(
            HEADER, {**claims(), n: v} if v is not None else claims(**{n: None}), keys.rsa
        ),
        _name,
    )
for _name in ("exp", "nbf", "iat"):
    for _literal in (
        '"1700000100"',
        "true",
        "false",
        "null",
        "1e30",
        "-1",
        "1e400",
        "[1]",
        "1700000000000000000000000000000",
    ):
        case(
            f"{_name} {_literal}",
            lambda keys, n=_name, lit=_literal: payload_raw(date_text(n, lit))(keys),
            _name,
        )
    for _literal in ("NaN", "Infinity", "-Infinity"):
        case(
            f"{_name} {_literal} (not JSON)",
            lambda keys, n=_name, lit=_literal: payload_raw(date_text(n, lit))(keys),
            "payload",
        )
case("exp missing", lambda keys: sign(claims(exp=None), keys.rsa), "exp")
case("sub not a string", lambda keys: sign(claims(sub=42), keys.rsa), "sub")
case("scope not a string", lambda keys: sign(claims(scope=["a"]), keys.rsa), "scope")
case("roles not a list", lambda keys: sign(claims(roles="admin"), keys.rsa), "roles")
case("roles with a number", lambda keys: sign(claims(roles=["admin", 1]), keys.rsa), "roles")
case(
    "duplicate iss in the payload",
    payload_raw(json.dumps(claims())[:-1].encode() + b', "iss": "https://evil.example"}'),
    "payload",
)
case(
    "duplicate alg in the header",
    lambda keys: sign_raw(
        b'{"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt", "alg": "none"}', claims(), keys.rsa
    ),
    "header",
)
case("payload not an object", payload_raw(b'["iss"]'), "payload")
case("payload not UTF-8", payload_raw(b'{"iss": "\xff"}'), "payload")
case("header not an object", lambda keys: sign_raw(b'"RS256"', claims(), keys.rsa), "header")
case("header not JSON", lambda keys: sign_raw(b"{alg: RS256}", claims(), keys.rsa), "header")
case("padded segment", lambda keys: sign(claims(), keys.rsa).replace(".", "==.", 1), "token")
case("padded signature", lambda keys: sign(claims(), keys.rsa) + "==", "token")
case("non-canonical signature", rs256_signature_tweak, "signature")
case("non-canonical header", rs256_token_header_part_tweak, "header")
case("segment with +", lambda keys: "+" + sign(claims(), keys.rsa)[1:], "token")
case("segment with /", lambda keys: "/" + sign(claims(), keys.rsa)[1:], "token")
case("whitespace", lambda keys: sign(claims(), keys.rsa).replace(".", ". ", 1), "token")
case("trailing newline", lambda keys: sign(claims(), keys.rsa) + "\n", "token")
case("non-ASCII", lambda keys: sign(claims(), keys.rsa)[:-1] + "é", "token")
case("two segments", lambda keys: sign(claims(), keys.rsa).rsplit(".", 1)[0], "token")
case("four segments", lambda keys: sign(claims(), keys.rsa) + ".AAAA", "token")
case(
    "JWE (five segments)",
    lambda keys: (
        "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ"
        ".OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe"
        ".48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji"
        ".XFBoMYUZodetZdvTiFvSkQ"
    ),
    "token",
)
case(
    "flattened JSON serialisation",
    lambda keys: json.dumps(
        dict(
            zip(
                ("protected", "payload", "signature"),
                sign(claims(), keys.rsa).split("."),
                strict=True,
            )
        )
    ),
    "token",
)
case(
    "general JSON serialisation",
    lambda keys: json.dumps(
        {
            "payload": sign(claims(), keys.rsa).split(".")[1],
            "signatures": [
                {
                    "protected": sign(claims(), keys.rsa).split(".")[0],
                    "signature": sign(claims(), keys.rsa).split(".")[2],
                }
            ],
        }
    ),
    "token",
)
case("several megabytes", lambda keys: sign(claims(pad="x" * 3_000_000), keys.rsa), "token")
case("just over the size limit", lambda keys: "a" * 16_385, "token")
case("typ JWT", lambda keys: sign(claims(), keys.rsa, typ="JWT"), "typ")
case(
    "typ missing",
    lambda keys: sign_raw({"alg": "RS256", "kid": "rsa-1"}, claims(), keys.rsa),
    "typ",
)
case("typ application/jwt", lambda keys: sign(claims(), keys.rsa, typ="application/jwt"), "typ")
case("typ at+jwt;x", lambda keys: sign(claims(), keys.rsa, typ="at+jwt;x"), "typ")
case("typ not a string", lambda keys: sign(claims(), keys.rsa, typ=["at+jwt"]), "typ")
case("RS256 header on an EC key", lambda keys: sign(claims(), keys.rsa, "ec-256"), "alg")
case("ES256 on the P-384 key", lambda keys: sign(claims(), keys.ec256, "ec-384", "ES256"), "alg")
case(
    "ES256 header on the RSA key", lambda keys: sign(claims(), keys.ec256, "rsa-1", "ES256"), "alg"
)


@pytest.fixture
async def warm_verifier(verifier: TokenVerifier, keys: Keys, fake_issuer) -> TokenVerifier:
    await verifier.verify(sign(claims(), keys.rsa))
    assert fake_issuer.urls == [JWKS_URL]
    return verifier


@pytest.mark.parametrize("name", list(CASES))
async def test_forged_token_is_refused(warm_verifier, fake_issuer, keys, name):
    make, code, claim = CASES[name]
    token = make(keys)
    with pytest.raises(TokenError) as caught:
        await warm_verifier.verify(token)
    assert (caught.value.code, caught.value.claim) == (code, claim)
    assert fake_issuer.urls == [JWKS_URL]
    if isinstance(token, str) and len(token) > 20:
        assert token not in str(caught.value)
        assert token.split(".")[0] not in str(caught.value)


KEY_MISMATCH = {
    "RS256 header on an EC key",
    "ES256 on the P-384 key",
    "ES256 header on the RSA key",
}
HEADER_FAULTS = {"alg", "jwk", "jku", "x5u", "x5c", "crit", "enc", "zip", "typ", "header", "token"}


@pytest.mark.parametrize(
    "name",
    [
        name
        for name, (_make, _code, claim) in CASES.items()
        if name not in KEY_MISMATCH and (claim in HEADER_FAULTS or "before any fetch" in name)
    ],
)
async def test_header_forgeries_make_no_call_at_all(verifier, fake_issuer, keys, name):
    make, code, claim = CASES[name]
    with pytest.raises(TokenError) as caught:
        await verifier.verify(make(keys))
    assert (caught.value.code, caught.value.claim) == (code, claim)
    assert fake_issuer.urls == []


async def test_an_unknown_kid_fetches_only_the_configured_url(verifier, fake_issuer, keys):
    for kid in ("../../etc/passwd", "https://evil.example/jwks.json", "' OR 1=1 --"):
        with pytest.raises(TokenError) as caught:
            await verifier.verify(sign(claims(), keys.rsa, kid))
        assert (caught.value.code, caught.value.claim) == ("invalid_token", "kid")
    assert fake_issuer.urls == [JWKS_URL]


async def test_a_token_that_is_not_a_string_is_refused(verifier, fake_issuer, keys):
    with pytest.raises(TokenError) as caught:
        await verifier.verify(sign(claims(), keys.rsa).encode())  # type: ignore[arg-type]
    assert (caught.value.code, caught.value.claim) == ("invalid_token", "token")
    assert fake_issuer.urls == []
