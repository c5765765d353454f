"""Where the key-encryption key comes from.

Production passes it in ``ISSUER_KEK`` or in a file named by ``ISSUER_KEK_FILE``.
Development mode alone may generate one into ``var/kek`` (mode 0600), and says loudly
that this file is now the only thing that opens the stored signing keys.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from keys import KeyEncryptionKey, KeyEncryptionKeyError

from .errors import ConfigurationError
from .settings import DEV_KEK_FILE, Settings

logger = logging.getLogger("issuer")


def load_kek(settings: Settings) -> KeyEncryptionKey:
    try:
        if settings.kek:
            return KeyEncryptionKey.from_text(settings.kek)
        if settings.kek_file is not None:
            return KeyEncryptionKey.from_text(_read(settings.kek_file))
        if settings.dev:
            return KeyEncryptionKey.from_text(_dev_kek(Path(DEV_KEK_FILE)))
    except KeyEncryptionKeyError as exc:
        raise ConfigurationError(f"key-encryption key: {exc}") from None
    raise ConfigurationError(
        "no key-encryption key: set ISSUER_KEK or ISSUER_KEK_FILE (generate one with "
        "`issuer keys new-kek`); for the development setup of scripts/serve, set "
        f"ISSUER_DEV=true or ISSUER_KEK_FILE={DEV_KEK_FILE}"
    )


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"ISSUER_KEK_FILE {path}: {exc.strerror}") from None


def _dev_kek(path: Path) -> str:
    if path.exists():
        return _read(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(KeyEncryptionKey.new_text() + "\n")
    try:
        os.link(draft, path)  # atomic: a process starting at the same time keeps ours
    except FileExistsError:
        return _read(path)
    finally:
        draft.unlink()
    logger.warning(
        "DEVELOPMENT MODE: generated a key-encryption key in %s (mode 0600). It alone opens "
        "the signing keys stored in the database; never use this file in production.",
        path,
    )
    return _read(path)
