"""Signing-key lifecycle: generate, seal at rest, store, publish the JWK set.

This package knows nothing about HTTP or about the issuer that uses it.
"""

from .errors import (
    InvalidPolicy,
    KeyEncryptionKeyError,
    KeyLifecycleError,
    NoActiveKey,
    RotationConflict,
    RotationRefused,
    UnknownKey,
    UnsupportedAlgorithm,
)
from .jwk import SUPPORTED_ALGORITHMS, generate_private_key, public_jwk
from .keyring import KeyManager, KeyRing, render_key_set
from .lifecycle import Outcome, Policy, Step, advance, plan
from .revocation import Revocation, revoke
from .rewrap import Rewrapped, rewrap
from .sealing import KeyEncryptionKey
from .signer import Signer
from .store import SigningKey, ensure_active_key

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "InvalidPolicy",
    "KeyEncryptionKey",
    "KeyEncryptionKeyError",
    "KeyLifecycleError",
    "KeyManager",
    "KeyRing",
    "NoActiveKey",
    "Outcome",
    "Policy",
    "Revocation",
    "Rewrapped",
    "RotationConflict",
    "RotationRefused",
    "Signer",
    "SigningKey",
    "Step",
    "UnknownKey",
    "UnsupportedAlgorithm",
    "advance",
    "ensure_active_key",
    "generate_private_key",
    "plan",
    "public_jwk",
    "render_key_set",
    "revoke",
    "rewrap",
]
