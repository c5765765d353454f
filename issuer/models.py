"""Tables of the issuer: users and clients. Signing keys live in :mod:`keys.store`.

Lists (roles, grants, scopes) are stored as JSON so that SQLite and PostgreSQL hold the
same values. Times are integer Unix seconds, as in tokens.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=36)
    email: str = Field(max_length=320)
    email_key: str = Field(max_length=320, unique=True)
    password_hash: str = Field(repr=False)
    given_name: str | None = Field(default=None, max_length=200)
    family_name: str | None = Field(default=None, max_length=200)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    disabled: bool = False
    created_at: int = Field(sa_type=BigInteger)


class Client(SQLModel, table=True):
    __tablename__ = "clients"

    client_id: str = Field(primary_key=True, max_length=200)
    secret_hash: str | None = Field(default=None, repr=False)
    public: bool = False
    grants: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    audience: str | None = Field(default=None, max_length=400)
    disabled: bool = False
    created_at: int = Field(sa_type=BigInteger)


class RefreshFamily(SQLModel, table=True):
    """One login: every refresh token rotated from it shares its scope and absolute expiry."""

    __tablename__ = "refresh_families"

    id: str = Field(primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=36, ondelete="CASCADE")
    client_id: str = Field(max_length=200)
    scope: str
    auth_time: int = Field(sa_type=BigInteger)
    created_at: int = Field(sa_type=BigInteger)
    expires_at: int = Field(sa_type=BigInteger, index=True)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)
    revoked_reason: str | None = Field(default=None, max_length=40)


class RefreshToken(SQLModel, table=True):
    """One refresh token, known only by its SHA-256; ``successor_hash`` is set when used."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    family_id: str = Field(
        foreign_key="refresh_families.id", index=True, max_length=36, ondelete="CASCADE"
    )
    parent_hash: str | None = Field(default=None, max_length=64)
    successor_hash: str | None = Field(default=None, max_length=64)
    user_id: str = Field(max_length=36)
    client_id: str = Field(max_length=200)
    scope: str
    created_at: int = Field(sa_type=BigInteger)
    created_by_ip: str | None = Field(default=None, max_length=64)
    expires_at: int = Field(sa_type=BigInteger, index=True)
    used_at: int | None = Field(default=None, sa_type=BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)
    revoked_by_ip: str | None = Field(default=None, max_length=64)
    revoked_reason: str | None = Field(default=None, max_length=40)


class RevokedAccessToken(SQLModel, table=True):
    """An access token revoked before its ``exp`` (RFC 7009); pruned once it has expired."""

    __tablename__ = "revoked_access_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=200)
    expires_at: int = Field(sa_type=BigInteger, index=True)
    revoked_at: int = Field(sa_type=BigInteger)


class SecurityEvent(SQLModel, table=True):
    """An audit record: never a token or a secret, only ids, the IP and what happened."""

    __tablename__ = "security_events"

    id: int | None = Field(default=None, primary_key=True)
    at: int = Field(sa_type=BigInteger, index=True)
    kind: str = Field(max_length=40)
    family_id: str | None = Field(default=None, max_length=36)
    client_id: str | None = Field(default=None, max_length=200)
    user_id: str | None = Field(default=None, max_length=36)
    ip: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=400)
