"""Compact JWS signing with the active key (RFC 7515 §7.1).

``cryptography`` computes every signature; this module only frames it: the header and
payload segments, and for ES256 the fixed-width ``r || s`` form of RFC 7518 §3.4.
Header segments are encoded once per ``typ`` because they never change for a key.
Minting is hot (every token endpoint call), so the JSON encoder is built once and
base64url goes straight to ``binascii``: with RSA-2048 the framing costs a few per cent
of the signature itself.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .jwk import PrivateKey, check_key_matches_alg

_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()
_ECDSA_SHA256 = ec.ECDSA(_SHA256)
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_JSON = json.JSONEncoder(separators=(",", ":"))
# The C encoder that ``_JSON.encode`` builds on every call, built once; claims are plain
# dicts made by the caller, so the circular-reference check is not needed.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)  # None without the C module
_encode_json = (
    None if _c_make_encoder is None else _c_make_encoder(
        None, _JSON.default, json.encoder.encode_basestring_ascii, None, ":", ",",
        False, False, True,
    )
)


def compact_json(value: dict[str, Any]) -> bytes:
    """``value`` as compact ASCII JSON (RFC 8259), the same bytes as ``json.dumps`` gives."""
    if _encode_json is None:
        return _JSON.encode(value).encode()
    return "".join(_encode_json(value, 0)).encode()


def b64url(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


class Signer:
    """Signs compact JWS with one private key; knows its ``kid`` and ``alg``."""

    def __init__(self, kid: str, alg: str, private_key: PrivateKey) -> None:
        check_key_matches_alg(private_key, alg)
        self.kid = kid
        self.alg = alg
        self._key = private_key
        self._headers: dict[str, bytes] = {}

    def sign_compact(self, claims: dict[str, Any], typ: str) -> str:
        """The compact serialisation of ``claims`` under a header of ``alg``, ``kid``, ``typ``."""
        payload = b64url(compact_json(claims))
        signing_input = self._header(typ) + b"." + payload
        return (signing_input + b"." + b64url(self._signature(signing_input))).decode()

    def _header(self, typ: str) -> bytes:
        header = self._headers.get(typ)
        if header is None:
            fields = {"alg": self.alg, "kid": self.kid, "typ": typ}
            header = b64url(compact_json(fields))
            self._headers[typ] = header
        return header

    def _signature(self, signing_input: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(signing_input, _PKCS1, _SHA256)
        r, s = decode_dss_signature(self._key.sign(signing_input, _ECDSA_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
