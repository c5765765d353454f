"""Errors of the key lifecycle library.

Every error carries a stable snake_case ``code`` that callers may branch on, and a
``kid`` when one key is at fault. Messages never carry key material.
"""

from __future__ import annotations


class KeyLifecycleError(Exception):
    """Base of every error raised by :mod:`keys`."""

    code = "key_error"

    def __init__(self, message: str, *, kid: str | None = None) -> None:
        super().__init__(message)
        self.kid = kid


class UnsupportedAlgorithm(KeyLifecycleError):
    code = "unsupported_algorithm"


class KeyEncryptionKeyError(KeyLifecycleError):
    """The key-encryption key is missing, malformed, or does not open a stored key."""

    code = "key_encryption_key_invalid"


class NoActiveKey(KeyLifecycleError):
    code = "no_active_key"
