"""Key generation and the public JWK form of a signing key (RFC 7517, RFC 7518 §6).

The ``kid`` of every key is its RFC 7638 thumbprint, so the same key always has the
same ``kid`` on every replica and a ``kid`` can never be reused for another key.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey

from .errors import UnsupportedAlgorithm

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

SUPPORTED_ALGORITHMS = ("RS256", "ES256")
RSA_KEY_SIZES = (2048, 3072, 4096)


def generate_private_key(alg: str, rsa_key_size: int = 2048) -> PrivateKey:
    """A fresh private key for ``alg``: RSA of ``rsa_key_size`` bits, or P-256."""
    if alg == "RS256":
        if rsa_key_size not in RSA_KEY_SIZES:
            raise UnsupportedAlgorithm(f"RSA key size must be one of {RSA_KEY_SIZES}")
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_size)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise UnsupportedAlgorithm(f"alg must be one of {SUPPORTED_ALGORITHMS}, not {alg!r}")


def check_key_matches_alg(private_key: PrivateKey, alg: str) -> None:
    """Refuse a key whose type or curve does not fit ``alg`` (RFC 8725 §3.1)."""
    if alg == "RS256" and isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < 2048:
            raise UnsupportedAlgorithm("RSA keys shorter than 2048 bits are refused")
        return
    is_p256 = isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(
        private_key.curve, ec.SECP256R1
    )
    if alg == "ES256" and is_p256:
        return
    raise UnsupportedAlgorithm(f"the key does not fit alg {alg!r}")


def public_jwk(private_key: PrivateKey, alg: str) -> dict[str, Any]:
    """The public JWK of a signing key: ``kty``, ``kid``, ``use``, ``alg`` and public members.

    Only public members are ever taken from the key object, so a private member cannot
    leak into a published set by mistake.
    """
    check_key_matches_alg(private_key, alg)
    jose_key = _jose_key(private_key)
    members = jose_key.as_dict(private=False)
    public = {name: members[name] for name in _PUBLIC_MEMBERS[members["kty"]]}
    return {"kty": members["kty"], "kid": jose_key.thumbprint(), "use": "sig", "alg": alg, **public}


def serialize_private_key(private_key: PrivateKey) -> bytes:
    """Unencrypted PKCS #8 DER; callers seal it before it is stored."""
    return private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(der: bytes) -> PrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise UnsupportedAlgorithm("stored key is neither RSA nor EC")
    return key


_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y")}


def _jose_key(private_key: PrivateKey) -> RSAKey | ECKey:
    public = private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return RSAKey.import_key(public)
    return ECKey.import_key(public)
