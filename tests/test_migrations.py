"""Migrations keep data, and the models match the migrated schema on every database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

import issuer.models  # noqa: F401  (registers the tables)
import keys.store  # noqa: F401
from issuer.db import create_sync_engine
from issuer.migrate import current_revision, head_revision, upgrade

USER = {"id": "u-1", "email": "Old@Example.com", "email_key": "old@example.com",
        "password_hash": "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "given_name": "Old", "family_name": "Timer", "roles": '["admin"]',
        "disabled": False, "created_at": 1_700_000_000}
CLIENT = {"client_id": "legacy", "secret_hash": "sha256$00", "public": False,
          "grants": '["password", "refresh_token"]', "scopes": '["api"]', "audience": None,
          "disabled": False, "created_at": 1_700_000_000}
KEY = {"kid": "kid-1", "alg": "RS256", "state": "active", "public_jwk": '{"kty":"RSA"}',
       "sealed_private": "v1.abc.def", "created_at": 1_700_000_000,
       "published_at": 1_700_000_000, "activated_at": 1_700_000_000}
FAMILY = {"id": "f-1", "user_id": "u-1", "client_id": "legacy", "scope": "api",
          "auth_time": 1_700_000_100, "created_at": 1_700_000_100, "expires_at": 1_702_592_100}
TOKEN = {"token_hash": "ab" * 32, "family_id": "f-1", "user_id": "u-1", "client_id": "legacy",
         "scope": "api", "created_at": 1_700_000_100, "expires_at": 1_700_604_900}


def insert(connection, table: str, row: dict) -> None:  # type: ignore[no-untyped-def]
    columns = ", ".join(row)
    values = ", ".join(f":{name}" for name in row)
    connection.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)


def select_all(connection, table: str, key: str) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = connection.execute(text(f"SELECT * FROM {table} ORDER BY {key}"))
    return [dict(row._mapping) for row in rows]


def test_data_written_under_each_schema_survives_the_upgrade(database_url: str) -> None:
    engine = create_sync_engine(database_url)
    upgrade(database_url, "0001")
    with engine.begin() as connection:
        insert(connection, "users", USER)
        insert(connection, "clients", CLIENT)
        insert(connection, "signing_keys", KEY)
    upgrade(database_url, "0002")
    with engine.begin() as connection:
        insert(connection, "refresh_families", FAMILY)
        insert(connection, "refresh_tokens", TOKEN)

    upgrade(database_url)

    with engine.connect() as connection:
        users = select_all(connection, "users", "id")
        clients = select_all(connection, "clients", "client_id")
        keys = select_all(connection, "signing_keys", "kid")
        families = select_all(connection, "refresh_families", "id")
        tokens = select_all(connection, "refresh_tokens", "token_hash")
    engine.dispose()

    assert current_revision(database_url) == head_revision()
    assert [(u["email"], u["email_key"], u["password_hash"]) for u in users] == [
        (USER["email"], USER["email_key"], USER["password_hash"])]
    assert [(c["client_id"], c["secret_hash"]) for c in clients] == [("legacy", "sha256$00")]
    assert [(k["kid"], k["state"], k["sealed_private"]) for k in keys] == [
        ("kid-1", "active", "v1.abc.def")]
    assert [(f["id"], f["expires_at"]) for f in families] == [("f-1", 1_702_592_100)]
    assert [(t["token_hash"], t["family_id"]) for t in tokens] == [("ab" * 32, "f-1")]


def test_models_match_the_migrated_schema(database_url: str) -> None:
    upgrade(database_url)
    engine = create_sync_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "compare_server_default": False}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()

    assert differences == []


def test_database_errors_do_not_carry_statement_values(database_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    upgrade(database_url)
    engine = create_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            insert(connection, "users", USER)
        with engine.begin() as connection:
            insert(connection, "users", USER)
    except IntegrityError as error:
        message = str(error)
    finally:
        engine.dispose()

    assert "hidden due to hide_parameters" in message
    assert USER["password_hash"] not in message
