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


class UnknownKey(KeyLifecycleError):
    """No stored key has the given ``kid``."""

    code = "unknown_kid"


class RotationRefused(KeyLifecycleError):
    """A lifecycle step would break a rule of the key policy and was not forced.

    ``breaks`` says, in words for an operator, what the step would break.
    """

    code = "rotation_refused"

    def __init__(self, message: str, *, kid: str | None = None, breaks: str = "") -> None:
        super().__init__(message, kid=kid)
        self.breaks = breaks


class RotationConflict(KeyLifecycleError):
    """Another process changed the keys while this one was changing them; nothing was done."""

    code = "rotation_conflict"


class InvalidPolicy(KeyLifecycleError):
    """The key policy cannot be kept, for example a rotation period shorter than propagation."""

    code = "invalid_policy"
