"""Signing-key lifecycle: generate, seal at rest, store, publish the JWK set.

This package knows nothing about HTTP or about the issuer that uses it.
"""

from .errors import KeyEncryptionKeyError, KeyLifecycleError, NoActiveKey, UnsupportedAlgorithm
from .jwk import SUPPORTED_ALGORITHMS, generate_private_key, public_jwk
from .keyring import KeyManager, KeyRing, render_key_set
from .sealing import KeyEncryptionKey
from .signer import Signer
from .store import SigningKey, ensure_active_key

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "KeyEncryptionKey",
    "KeyEncryptionKeyError",
    "KeyLifecycleError",
    "KeyManager",
    "KeyRing",
    "NoActiveKey",
    "Signer",
    "SigningKey",
    "UnsupportedAlgorithm",
    "ensure_active_key",
    "generate_private_key",
    "public_jwk",
    "render_key_set",
]
