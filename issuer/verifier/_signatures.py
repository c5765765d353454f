"""JWS signature checks by algorithm (RFC 7518 §3.3-3.5), all done by ``cryptography``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

SignatureCheck = Callable[[Any, bytes, bytes], None]
"""``check(public_key, signature, signing_input)``; raises ``InvalidSignature``."""


def _pkcs1(hash_algorithm: hashes.HashAlgorithm) -> SignatureCheck:
    """RSASSA-PKCS1-v1_5 (RFC 7518 §3.3)."""
    scheme = padding.PKCS1v15()

    def check(key: Any, signature: bytes, data: bytes) -> None:
        key.verify(signature, data, scheme, hash_algorithm)

    return check


def _pss(hash_algorithm: hashes.HashAlgorithm) -> SignatureCheck:
    """RSASSA-PSS with MGF1 and a salt as long as the hash (RFC 7518 §3.5)."""
    scheme = padding.PSS(padding.MGF1(hash_algorithm), padding.PSS.DIGEST_LENGTH)

    def check(key: Any, signature: bytes, data: bytes) -> None:
        key.verify(signature, data, scheme, hash_algorithm)

    return check


def _ecdsa(hash_algorithm: hashes.HashAlgorithm, size: int) -> SignatureCheck:
    """ECDSA whose JWS signature is R || S, each exactly ``size`` octets (RFC 7518 §3.4)."""
    scheme = ec.ECDSA(hash_algorithm)

    def check(key: Any, signature: bytes, data: bytes) -> None:
        if len(signature) != 2 * size:
            raise InvalidSignature
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        key.verify(encode_dss_signature(r, s), data, scheme)

    return check


SIGNATURE_CHECKS: dict[str, SignatureCheck] = {
    "RS256": _pkcs1(hashes.SHA256()),
    "RS384": _pkcs1(hashes.SHA384()),
    "RS512": _pkcs1(hashes.SHA512()),
    "PS256": _pss(hashes.SHA256()),
    "ES256": _ecdsa(hashes.SHA256(), 32),
    "ES384": _ecdsa(hashes.SHA384(), 48),
}
