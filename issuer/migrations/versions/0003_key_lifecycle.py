"""At most one ``next`` signing key, enforced by the database.

Two rotation runs at once (cron and an issuer's own loop, or two issuers on one
PostgreSQL) may both find no ``next`` key and both publish one; this index lets exactly
one insert win, as ``ix_signing_keys_one_active`` already does for the active key.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_signing_keys_one_next",
        "signing_keys",
        ["state"],
        unique=True,
        sqlite_where=sa.text("state = 'next'"),
        postgresql_where=sa.text("state = 'next'"),
    )


def downgrade() -> None:
    op.drop_index("ix_signing_keys_one_next", table_name="signing_keys")
