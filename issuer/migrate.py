"""Schema migrations (Alembic), safe to run from several processes at once.

Two issuers starting together on an empty database would both try to create the
tables; a lock serialises them: a PostgreSQL advisory lock, or on SQLite an exclusive
file lock beside the database file. The second process then finds the schema current.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from .db import create_sync_engine, sqlite_path, sync_url

_ADVISORY_LOCK_ID = 0x155E_0001
_SCRIPT_LOCATION = str(Path(__file__).parent / "migrations")


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; a no-op when it is there already."""
    engine = create_sync_engine(database_url)
    try:
        with _migration_lock(database_url), engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
                connection.commit()
            try:
                _run(connection, revision)
            finally:
                if connection.dialect.name == "postgresql":
                    connection.rollback()
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID}
                    )
                    connection.commit()
    finally:
        engine.dispose()


def current_revision(database_url: str) -> str | None:
    engine = create_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def _run(connection: Connection, revision: str) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
    connection.commit()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", _SCRIPT_LOCATION)
    return config


@contextmanager
def _migration_lock(database_url: str) -> Iterator[None]:
    path = sqlite_path(sync_url(database_url))
    if path is None:
        yield
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path.with_name(path.name + ".migrate-lock"), os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
