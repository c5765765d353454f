"""Alembic environment: always run from :func:`issuer.migrate.upgrade`, online only."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import issuer.models  # noqa: F401  (registers the tables)
import keys.store  # noqa: F401

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
