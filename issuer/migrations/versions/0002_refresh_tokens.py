"""Refresh-token families and tokens, revoked access tokens, and security events.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refresh_families",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("auth_time", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger()),
        sa.Column("revoked_reason", sa.String(40)),
    )
    op.create_index("ix_refresh_families_user_id", "refresh_families", ["user_id"])
    op.create_index("ix_refresh_families_expires_at", "refresh_families", ["expires_at"])
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("family_id", sa.String(36),
                  sa.ForeignKey("refresh_families.id", ondelete="CASCADE"), nullable=False),
        sa.Column("parent_hash", sa.String(64)),
        sa.Column("successor_hash", sa.String(64)),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by_ip", sa.String(64)),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger()),
        sa.Column("revoked_at", sa.BigInteger()),
        sa.Column("revoked_by_ip", sa.String(64)),
        sa.Column("revoked_reason", sa.String(40)),
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"])
    op.create_table(
        "revoked_access_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_revoked_access_tokens_expires_at", "revoked_access_tokens",
                    ["expires_at"])
    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("family_id", sa.String(36)),
        sa.Column("client_id", sa.String(200)),
        sa.Column("user_id", sa.String(36)),
        sa.Column("ip", sa.String(64)),
        sa.Column("detail", sa.String(400)),
    )
    op.create_index("ix_security_events_at", "security_events", ["at"])


def downgrade() -> None:
    op.drop_table("security_events")
    op.drop_table("revoked_access_tokens")
    op.drop_table("refresh_tokens")
    op.drop_table("refresh_families")
