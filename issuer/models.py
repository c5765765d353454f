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
