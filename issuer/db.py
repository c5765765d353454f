"""Database engines for SQLite (the embedded default) and PostgreSQL.

The service talks to the database through SQLAlchemy's async engine: ``aiosqlite`` for
SQLite and ``psycopg`` (version 3) for PostgreSQL. Migrations use a synchronous engine
on the same database. On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so
that two writers queue on the busy timeout instead of failing half-way with
"database is locked" when a read turns into a write; sessions made by
:func:`read_session_factory` only read, and begin ``DEFERRED`` so they never wait.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from .errors import ConfigurationError

SQLITE_BUSY_TIMEOUT_SECONDS = 30
# Every engine is made with hide_parameters: a database error that reaches a log line
# then names the statement but not its values (password hashes, sealed keys, token hashes).


def async_url(url: str) -> str:
    """The async-driver form of a database URL."""
    return _with_driver(url, sqlite="sqlite+aiosqlite", postgresql="postgresql+psycopg")


def sync_url(url: str) -> str:
    """The sync-driver form of a database URL, for migrations and the CLI."""
    return _with_driver(url, sqlite="sqlite", postgresql="postgresql+psycopg")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def create_async_engine(
    url: str, *, pool_size: int = 5, max_overflow: int = 10, single_writer: bool = False
) -> AsyncEngine:
    """An async engine; with ``single_writer`` a SQLite engine keeps one connection.

    SQLite lets one connection write at a time, and a connection that finds the write lock
    taken sleeps in its busy handler with growing back-off. One writing connection per
    process makes writers queue in the event loop instead, in order and without sleeps.
    """
    target = async_url(url)
    if is_sqlite(target):
        _make_parent(target)
        pool: dict[str, Any] = {"pool_size": 1, "max_overflow": 0} if single_writer else {}
        engine = _create_async_engine(
            target, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            pool_timeout=SQLITE_BUSY_TIMEOUT_SECONDS, hide_parameters=True, **pool,
        )
        _immediate_transactions(engine.sync_engine)
        return engine
    return _create_async_engine(
        target, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True,
        hide_parameters=True,
    )


def create_sync_engine(url: str) -> Engine:
    target = sync_url(url)
    if is_sqlite(target):
        _make_parent(target)
        engine = create_engine(
            target, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}, hide_parameters=True
        )
        _immediate_transactions(engine)
        return engine
    return create_engine(target, pool_pre_ping=True, hide_parameters=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that only read. On SQLite they begin DEFERRED, so they do not queue behind
    writers for the write lock; they must never write (a deferred transaction that turns
    into a write can fail with "database is locked")."""
    return async_sessionmaker(
        engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False
    )


def _with_driver(url: str, *, sqlite: str, postgresql: str) -> str:
    try:
        parsed = make_url(url)
    except Exception:  # SQLAlchemy raises ArgumentError, and ValueError for bad ports
        raise ConfigurationError("ISSUER_DATABASE_URL is not a database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername=sqlite).render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername=postgresql).render_as_string(hide_password=False)
    raise ConfigurationError("ISSUER_DATABASE_URL must be a sqlite:// or postgresql:// URL")


def _make_parent(url: str) -> None:
    """Create the SQLite file's folder and the file itself readable by the owner only:
    it holds password hashes and sealed private keys."""
    path = sqlite_path(url)
    if path is None:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _immediate_transactions(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL never corrupts the database; a power cut (not a crash of
        # the process) may lose the last commits. It saves an fsync per transaction.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")
