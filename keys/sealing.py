"""Encryption of private keys at rest under the key-encryption key (KEK).

A sealed key is ``v1.<kek id>.<base64url(nonce | ciphertext)>``, AES-256-GCM with the
``kid`` as associated data, so a sealed blob cannot be swapped onto another key's row.
The KEK id is a short hash of the KEK: it tells an operator which KEK a row needs
without revealing anything about the KEK itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import KeyEncryptionKeyError

_VERSION = "v1"
_NONCE_BYTES = 12


class KeyEncryptionKey:
    """A 256-bit key that seals and opens stored private keys."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise KeyEncryptionKeyError(
                "the key-encryption key must be 32 bytes (make one with `issuer keys new-kek`)"
            )
        self._aead = AESGCM(secret)
        self._secret = secret
        self.kek_id = hashlib.sha256(b"kek-id:" + secret).hexdigest()[:12]

    def derive(self, purpose: bytes) -> bytes:
        """A 256-bit secret for another ``purpose`` (HKDF, RFC 5869), independent of the KEK."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
            self._secret
        )

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_text(cls, text: str) -> KeyEncryptionKey:
        """Read the base64url (or standard base64) text form, padding optional."""
        cleaned = text.strip()
        try:
            secret = base64.urlsafe_b64decode(_pad(cleaned.replace("+", "-").replace("/", "_")))
        except (binascii.Error, ValueError):
            raise KeyEncryptionKeyError(
                "the key-encryption key is not 32 bytes of base64url "
                "(make one with `issuer keys new-kek`)"
            ) from None
        return cls(secret)

    @staticmethod
    def new_text() -> str:
        """A fresh KEK in the text form that :meth:`from_text` reads."""
        return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()

    def seal(self, plaintext: bytes, kid: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, plaintext, kid.encode())
        body = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()
        return f"{_VERSION}.{self.kek_id}.{body}"

    def open(self, sealed: str, kid: str) -> bytes:
        _version, kek_id, body = _split(sealed, kid)
        if kek_id != self.kek_id:
            raise KeyEncryptionKeyError(
                f"key {kid} is sealed under key-encryption key {kek_id}, "
                f"not the configured {self.kek_id}",
                kid=kid,
            )
        try:
            raw = base64.urlsafe_b64decode(_pad(body))
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], kid.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise KeyEncryptionKeyError(f"key {kid} does not open", kid=kid) from None


def sealed_kek_id(sealed: str) -> str:
    """The id of the KEK that sealed ``sealed``, read without opening it ("?" if malformed)."""
    parts = sealed.split(".", 2)
    return parts[1] if len(parts) == 3 else "?"


def _split(sealed: str, kid: str) -> tuple[str, str, str]:
    parts = sealed.split(".", 2)
    if len(parts) != 3 or parts[0] != _VERSION:
        raise KeyEncryptionKeyError(f"key {kid} has an unknown sealed form", kid=kid)
    return parts[0], parts[1], parts[2]


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)
