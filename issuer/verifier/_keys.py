"""Public verification keys imported once from a JWK Set (RFC 7517, RFC 7518 §6)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ._encoding import b64url_decode_checked, json_object

logger = logging.getLogger("issuer.verifier")

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256"})
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384"}
SUPPORTED_ALGORITHMS = RSA_ALGORITHMS | frozenset(EC_ALGORITHMS.values())

_CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}
_COORDINATE_SIZE = {"P-256": 32, "P-384": 48}
_MIN_RSA_BITS = 2048
_MAX_RSA_BITS = 8192
_MAX_KID_LENGTH = 256
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")

PublicKeyObject = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True, slots=True)
class PublicKey:
    """One usable verification key: its ``kid``, ``kty``, and the algorithms it accepts.

    ``algorithms`` is what the key type allows (RFC 7518 §3.1), narrowed to the JWK's
    own ``alg`` member when it has one (RFC 7517 §4.4).
    """

    kid: str
    kty: str
    crv: str | None
    algorithms: frozenset[str]
    key: PublicKeyObject


class UnusableKey(ValueError):
    """A JWK entry that cannot serve for signature verification; it is skipped."""


def import_jwk(jwk: object) -> PublicKey:
    """Import one public JWK, or raise :class:`UnusableKey` saying why not.

    Entries for encryption (``use: "enc"``, RFC 7517 §4.2), without ``verify`` in
    ``key_ops`` (§4.3), without a string ``kid``, or of a type or curve we do not verify
    with are unusable. Private members, if present, are never read.
    """
    if not isinstance(jwk, Mapping):
        raise UnusableKey("entry is not an object")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID_LENGTH:
        raise UnusableKey("kid missing or not a short string")
    _check_purpose(jwk)
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        logger.warning("JWK %s carries private key members; they are ignored", kid)
    kty = jwk.get("kty")
    if kty == "RSA":
        key: PublicKeyObject = _rsa_key(jwk)
        crv, algorithms = None, RSA_ALGORITHMS
    elif kty == "EC":
        crv, key = _ec_key(jwk)
        algorithms = frozenset({EC_ALGORITHMS[crv]})
    else:
        raise UnusableKey("unsupported kty")
    return PublicKey(kid, kty, crv, _narrow(algorithms, jwk.get("alg")), key)


def _check_purpose(jwk: Mapping[str, Any]) -> None:
    use = jwk.get("use", "sig")
    if use != "sig":
        raise UnusableKey("use is not sig")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise UnusableKey("key_ops does not include verify")


def _narrow(algorithms: frozenset[str], alg: object) -> frozenset[str]:
    if alg is None:
        return algorithms
    if not isinstance(alg, str) or alg not in algorithms:
        raise UnusableKey("alg does not suit the key type")
    return frozenset({alg})


def _unsigned(value: object) -> int:
    try:
        return int.from_bytes(b64url_decode_checked(value), "big")
    except ValueError as exc:
        raise UnusableKey("member is not base64url") from exc


def _rsa_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    n, e = _unsigned(jwk.get("n")), _unsigned(jwk.get("e"))
    if not _MIN_RSA_BITS <= n.bit_length() <= _MAX_RSA_BITS:
        raise UnusableKey("RSA modulus size out of range")
    if e < 3 or e % 2 == 0 or e.bit_length() > 64:
        raise UnusableKey("RSA exponent out of range")
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise UnusableKey("RSA key rejected") from exc


def _ec_key(jwk: Mapping[str, Any]) -> tuple[str, ec.EllipticCurvePublicKey]:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in _CURVES:
        raise UnusableKey("unsupported crv")
    size = _COORDINATE_SIZE[crv]
    try:
        x, y = b64url_decode_checked(jwk.get("x")), b64url_decode_checked(jwk.get("y"))
    except ValueError as exc:
        raise UnusableKey("coordinate is not base64url") from exc
    if len(x) != size or len(y) != size:
        raise UnusableKey("coordinate of the wrong length")
    try:
        point = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[crv], b"\x04" + x + y)
    except ValueError as exc:
        raise UnusableKey("point is not on the curve") from exc
    return crv, point


class KeySet:
    """An immutable set of verification keys, indexed by ``kid`` (RFC 7517 §5).

    It also serves as a fixed key source for :class:`~issuer.verifier.TokenVerifier`,
    for tests or deployments that pin their keys.
    """

    __slots__ = ("_by_kid",)

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        by_kid: dict[str, tuple[PublicKey, ...]] = {}
        for key in keys:
            by_kid[key.kid] = (*by_kid.get(key.kid, ()), key)
        self._by_kid = by_kid

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any] | str | bytes) -> KeySet:
        """Import a JWK Set document, skipping entries that are unusable.

        Raises ``ValueError`` when the document is not a JSON object whose ``keys``
        member is an array (RFC 7517 §5.1). The result may be empty.
        """
        if isinstance(document, str | bytes):
            text = document.encode() if isinstance(document, str) else document
            document = json_object(text) or {}
        if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
            raise ValueError("a JWK Set is an object with a keys array")
        return cls(_usable(document["keys"]))

    def find(self, kid: str) -> tuple[PublicKey, ...]:
        """The keys carrying this ``kid``; empty when there is none."""
        return self._by_kid.get(kid, ())

    @property
    def kids(self) -> frozenset[str]:
        """The key ids in the set."""
        return frozenset(self._by_kid)

    def __iter__(self) -> Iterator[PublicKey]:
        return (key for keys in self._by_kid.values() for key in keys)

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._by_kid.values())

    async def resolve(self, kid: str) -> tuple[PublicKey, ...]:
        """Key-source interface: the keys for ``kid``."""
        return self._by_kid.get(kid, ())

    def resolve_sync(self, kid: str) -> tuple[PublicKey, ...]:
        """Key-source interface, for synchronous callers."""
        return self._by_kid.get(kid, ())


def _usable(entries: list[Any]) -> Iterator[PublicKey]:
    for entry in entries:
        try:
            yield import_jwk(entry)
        except UnusableKey as exc:
            logger.debug("skipping JWK Set entry: %s", exc)
