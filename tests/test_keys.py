"""The key library: generation, thumbprints, sealing at rest, and one active key under races."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from issuer.db import create_async_engine, session_factory
from issuer.migrate import upgrade
from keys import (
    KeyEncryptionKey,
    KeyEncryptionKeyError,
    UnsupportedAlgorithm,
    ensure_active_key,
    generate_private_key,
    public_jwk,
)
from keys.store import all_keys
from tests.conftest import FakeClock

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def rfc7638_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 §3.2, computed here independently of the library under test."""
    required = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"),
                           sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.mark.parametrize(("alg", "size"), [("RS256", 2048), ("RS256", 3072), ("ES256", 0)])
def test_public_jwk_kid_is_the_thumbprint(alg: str, size: int) -> None:
    key = generate_private_key(alg, size or 2048)
    jwk = public_jwk(key, alg)

    assert jwk["kid"] == rfc7638_thumbprint(jwk)
    assert not PRIVATE_MEMBERS & set(jwk)
    if alg == "RS256":
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == size
        assert set(jwk) == {"kty", "kid", "use", "alg", "n", "e"}
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
        assert set(jwk) == {"kty", "kid", "use", "alg", "crv", "x", "y"}


def test_rsa_4096_on_request() -> None:
    key = generate_private_key("RS256", 4096)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 4096


def test_refuses_unknown_algorithms_and_sizes() -> None:
    with pytest.raises(UnsupportedAlgorithm) as caught:
        generate_private_key("HS256")
    assert caught.value.code == "unsupported_algorithm"
    with pytest.raises(UnsupportedAlgorithm):
        generate_private_key("RS256", 1024)
    with pytest.raises(UnsupportedAlgorithm):
        public_jwk(generate_private_key("ES256"), "RS256")


def test_sealing_round_trip_and_refusals() -> None:
    kek = KeyEncryptionKey.generate()
    sealed = kek.seal(b"private der", "kid-1")

    assert kek.open(sealed, "kid-1") == b"private der"
    assert b"private der" not in sealed.encode()
    with pytest.raises(KeyEncryptionKeyError) as other_kek:
        KeyEncryptionKey.generate().open(sealed, "kid-1")
    assert other_kek.value.code == "key_encryption_key_invalid"
    assert other_kek.value.kid == "kid-1"
    with pytest.raises(KeyEncryptionKeyError):
        kek.open(sealed, "kid-2")  # a sealed blob moved to another key's row


def test_kek_text_forms() -> None:
    text = KeyEncryptionKey.new_text()
    assert KeyEncryptionKey.from_text(text).kek_id == KeyEncryptionKey.from_text(text).kek_id
    with pytest.raises(KeyEncryptionKeyError):
        KeyEncryptionKey.from_text("too-short")
    with pytest.raises(KeyEncryptionKeyError):
        KeyEncryptionKey.from_text("!!!not base64!!!")


@pytest.mark.anyio
async def test_concurrent_first_starts_in_one_process_end_with_one_active_key(
    database_url: str,
) -> None:
    url = database_url
    upgrade(url)
    engine = create_async_engine(url)
    sessions = session_factory(engine)
    kek = KeyEncryptionKey.generate()

    kids = await asyncio.gather(
        *(ensure_active_key(sessions, kek, "ES256", FakeClock()) for _ in range(8))
    )
    async with sessions() as session:
        rows = await all_keys(session)
    await engine.dispose()

    assert len(set(kids)) == 1
    assert [(row.kid, row.state) for row in rows] == [(kids[0], "active")]


RACER = textwrap.dedent(
    """
    import asyncio, sys, time
    from issuer.service import Issuer
    from issuer.settings import load_settings
    from keys import KeyEncryptionKey

    url, kek, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])

    async def main():
        while time.time() < start_at:
            await asyncio.sleep(0.001)
        issuer = Issuer(load_settings(database_url=url, key_reload_interval=60),
                        kek=KeyEncryptionKey.from_text(kek))
        await issuer.start()
        print(issuer.keys.ring.require_signer().kid)
        await issuer.stop()

    asyncio.run(main())
    """
)


def test_two_processes_racing_on_first_start_end_with_one_active_key(
    tmp_path: Path, database_url: str
) -> None:
    import time

    from sqlalchemy import text

    from issuer.db import create_sync_engine

    url = database_url
    kek = KeyEncryptionKey.new_text()
    start_at = str(time.time() + 2.0)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url, kek, start_at],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=60) for racer in racers]

    assert [racer.returncode for racer in racers] == [0, 0], [err for _, err in outputs]
    kids = {out.strip() for out, _ in outputs}
    engine = create_sync_engine(url)
    with engine.connect() as connection:
        result = connection.execute(text("SELECT kid, state FROM signing_keys"))
        rows = [tuple(row) for row in result]
    engine.dispose()
    assert len(kids) == 1
    assert rows == [(kids.pop(), "active")]
