"""Refresh-grant latency as the refresh-token table grows, for scripts/bench.py.

Rows are bulk-loaded straight into ``refresh_families`` and ``refresh_tokens`` (one
``executemany`` transaction on SQLite, ``COPY`` on PostgreSQL), shaped like real data:
families of ten tokens rotated one from the other, nine used and the last one live.
Among them sit sample families whose single live token we know in plaintext; each is
rotated once through :meth:`issuer.refresh.RefreshTokens.rotate`, one at a time, so the
figures are the latency of one refresh grant's database work on a table of that size.
Each size has its own database; the rotations take turns between them.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import sqlite3
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bench_http import CHEAP_ARGON2, percentile

FAMILY_COLUMNS = (
    "id", "user_id", "client_id", "scope", "auth_time", "created_at", "expires_at",
    "revoked_at", "revoked_reason",
)
TOKEN_COLUMNS = (
    "token_hash", "family_id", "parent_hash", "successor_hash", "user_id", "client_id",
    "scope", "created_at", "created_by_ip", "expires_at", "used_at", "revoked_at",
    "revoked_by_ip", "revoked_reason",
)
TOKENS_PER_FAMILY = 10
WARMUP_ROTATIONS = 20
CLIENT_ID = "bench"
SCOPE = "api"
DAY = 86400


@dataclass
class Batch:
    """Rows to load, and the plaintext of the sample tokens among them."""

    families: list[tuple[Any, ...]]
    token_rows: Iterator[tuple[Any, ...]]
    samples: list[str]
    rows: int


def make_batch(rows: int, samples: int, user_id: str, now: int, rng: random.Random) -> Batch:
    """About ``rows`` token rows: filler families of ten, plus ``samples`` live tokens."""
    filler = max(0, rows - samples) // TOKENS_PER_FAMILY
    kinds = [False] * filler + [True] * samples
    rng.shuffle(kinds)  # the samples sit anywhere in the load, not at its end
    families: list[tuple[Any, ...]] = []
    plan: list[tuple[str, int, str | None]] = []
    plaintexts: list[str] = []
    for is_sample in kinds:
        family_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        created = now - rng.randrange(20 * DAY)
        families.append((family_id, user_id, CLIENT_ID, SCOPE, created, created,
                         created + 30 * DAY, None, None))
        token = secrets.token_urlsafe(32) if is_sample else None
        if token is not None:
            plaintexts.append(token)
        plan.append((family_id, created, token))
    return Batch(families, _token_rows(plan, user_id, now, rng), plaintexts,
                 filler * TOKENS_PER_FAMILY + samples)


def _token_rows(
    plan: list[tuple[str, int, str | None]], user_id: str, now: int, rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    for family_id, created, token in plan:
        if token is not None:
            digest = hashlib.sha256(token.encode()).hexdigest()
            yield (digest, family_id, None, None, user_id, CLIENT_ID, SCOPE, now - 60,
                   "127.0.0.1", now + 7 * DAY, None, None, None, None)
            continue
        hashes = [os.urandom(32).hex() for _ in range(TOKENS_PER_FAMILY)]
        step = max(1, (now - created) // TOKENS_PER_FAMILY)
        for position, digest in enumerate(hashes):
            issued = created + position * step
            last = position == TOKENS_PER_FAMILY - 1
            yield (
                digest, family_id, hashes[position - 1] if position else None,
                None if last else hashes[position + 1], user_id, CLIENT_ID, SCOPE, issued,
                "10.0.0.1", issued + 7 * DAY, None if last else issued + step, None, None, None,
            )


class SqliteLoader:
    def __init__(self, path: str) -> None:
        self._path = path

    def load(self, batch: Batch) -> None:
        connection = sqlite3.connect(self._path, isolation_level=None)
        try:
            connection.execute("PRAGMA cache_size=-262144")
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(_insert("refresh_families", FAMILY_COLUMNS), batch.families)
            connection.executemany(_insert("refresh_tokens", TOKEN_COLUMNS), batch.token_rows)
            connection.execute("COMMIT")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()

    def settle(self) -> None:
        """Nothing to do: the load already checkpointed its write-ahead log."""

    def size_bytes(self) -> int:
        return os.path.getsize(self._path)


class PostgresLoader:
    def __init__(self, url: str) -> None:
        self._url = url

    def load(self, batch: Batch) -> None:
        import psycopg

        with psycopg.connect(self._url) as connection:
            with connection.cursor() as cursor:
                for table, columns, rows in (
                    ("refresh_families", FAMILY_COLUMNS, iter(batch.families)),
                    ("refresh_tokens", TOKEN_COLUMNS, batch.token_rows),
                ):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            connection.commit()
            # What autovacuum does to a table that grew gradually: statistics and the
            # visibility map, so that the first reads after the load do not write.
            connection.autocommit = True
            connection.execute("VACUUM (ANALYZE) refresh_families, refresh_tokens")

    def settle(self) -> None:
        """Flush the load's dirty pages now rather than in a checkpoint mid-measurement."""
        import psycopg

        with psycopg.connect(self._url, autocommit=True) as connection:
            connection.execute("CHECKPOINT")

    def size_bytes(self) -> int:
        import psycopg

        with psycopg.connect(self._url) as connection:
            row = connection.execute(
                "SELECT pg_total_relation_size('refresh_tokens')"
                " + pg_total_relation_size('refresh_families')"
            ).fetchone()
        return int(row[0]) if row else 0


def _insert(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608


@dataclass
class Table:
    """One database holding ``size`` refresh-token rows, and an issuer on it."""

    size: int
    issuer: Any
    client: Any
    loader: SqliteLoader | PostgresLoader
    samples: list[str]
    rows: int
    load_seconds: float


async def refresh_growth(
    database_urls: dict[int, str], samples: int, *, seed: int = 7
) -> list[dict[str, Any]]:
    """p50/p99 of ``samples`` refresh rotations on each database of ``database_urls``
    (size in rows of ``refresh_tokens`` -> URL of an empty database), in process.

    Every database is loaded first; then the rotations take turns between them, so that
    a noisy neighbour or a slow disk moment hits every size alike.
    """
    rng = random.Random(seed)  # noqa: S311 - shapes test data, guards nothing
    tables: list[Table] = []
    try:
        for size, url in sorted(database_urls.items()):
            tables.append(await _loaded_table(size, url, samples + WARMUP_ROTATIONS, rng))
        for table in tables:
            table.loader.settle()
        latencies: dict[int, list[float]] = {table.size: [] for table in tables}
        for turn in range(samples + WARMUP_ROTATIONS):
            shift = turn % len(tables)
            for table in tables[shift:] + tables[:shift]:
                started = time.perf_counter()
                await table.issuer.refresh.rotate(table.samples[turn], table.client, None,
                                                  "127.0.0.1")
                if turn >= WARMUP_ROTATIONS:
                    latencies[table.size].append(time.perf_counter() - started)
        return [_figures(table, sorted(latencies[table.size])) for table in tables]
    finally:
        for table in tables:
            await table.issuer.stop()


async def _loaded_table(size: int, url: str, samples: int, rng: random.Random) -> Table:
    from issuer.clients import create_client
    from issuer.db import sqlite_path, sync_url
    from issuer.service import Issuer
    from issuer.settings import load_settings
    from issuer.users import create_user
    from keys import KeyEncryptionKey

    settings = load_settings(
        url="https://issuer.bench", database_url=url, kek=KeyEncryptionKey.new_text(),
        key_auto_rotate=False, **CHEAP_ARGON2,
    )
    path = sqlite_path(url)
    loader: SqliteLoader | PostgresLoader = (
        SqliteLoader(str(path)) if path is not None
        else PostgresLoader(sync_url(url).replace("+psycopg", "", 1))
    )
    issuer = Issuer(settings)
    await issuer.start()
    try:
        now = int(time.time())
        async with issuer.sessions() as session, session.begin():
            client, _ = await create_client(session, CLIENT_ID, now=now,
                                            grants=["password", "refresh_token"], scopes=[SCOPE])
            user = await create_user(session, issuer.passwords, "growth@example.com",
                                     "a growth password", now=now)
        batch = make_batch(max(size, samples), samples, user.id, now, rng)
        started = time.perf_counter()
        loader.load(batch)
        load_seconds = time.perf_counter() - started
    except BaseException:
        await issuer.stop()
        raise
    return Table(size, issuer, client, loader, batch.samples, batch.rows, load_seconds)


def _figures(table: Table, ordered: list[float]) -> dict[str, Any]:
    return {
        "rows": table.rows,
        "target_rows": table.size,
        "load_seconds": round(table.load_seconds, 2),
        "size_mb": round(table.loader.size_bytes() / 1e6, 1),
        "samples": len(ordered),
        "p50_ms": round(percentile(ordered, 50) * 1000, 3),
        "p99_ms": round(percentile(ordered, 99) * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def postgres_reachable(admin_url: str) -> str | None:
    """The server version, or None when nothing answers at ``admin_url``."""
    try:
        import psycopg

        with psycopg.connect(admin_url, connect_timeout=3) as connection:
            row = connection.execute("SHOW server_version").fetchone()
    except Exception:
        return None
    return str(row[0]) if row else None


class TemporaryPostgresDatabases:
    """Fresh databases created on entry and dropped on exit, on the server of ``admin_url``."""

    def __init__(self, admin_url: str, count: int) -> None:
        self._admin_url = admin_url
        self.names = [f"issuer_bench_{secrets.token_hex(4)}" for _ in range(count)]
        self._created: list[str] = []

    def __enter__(self) -> list[str]:
        import psycopg

        base, _, _ = self._admin_url.rpartition("/")
        with psycopg.connect(self._admin_url, autocommit=True) as connection:
            for name in self.names:
                connection.execute(f'CREATE DATABASE "{name}"')
                self._created.append(name)
        return [f"{base}/{name}" for name in self.names]

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(self._admin_url, autocommit=True) as connection:
            for name in self._created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
