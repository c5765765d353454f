"""Users: the resource owners of the ``password`` grant."""

from __future__ import annotations

import string
import unicodedata
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .errors import AlreadyExists, InvalidInput
from .models import User
from .passwords import Passwords

MAX_PASSWORD_CHARS = 1024
_NAME_CHARS = 200


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def email_key(email: str) -> str:
    """The form under which emails are unique: ASCII case does not make a different user.

    Only ASCII letters are folded, after NFC normalisation. Full Unicode case folding
    would merge addresses that mail systems keep apart (``straße`` and ``strasse``, or
    the Kelvin sign and ``k``), letting one person sign in as another.
    """
    return unicodedata.normalize("NFC", email.strip()).translate(_ASCII_LOWER)


def check_email(email: str) -> str:
    cleaned = email.strip()
    local, at, domain = cleaned.rpartition("@")
    if not at or not local or "." not in domain or len(cleaned) > 320:
        raise InvalidInput("email is not an address", field="email")
    if any(ch.isspace() or ord(ch) < 32 for ch in cleaned):
        raise InvalidInput("email must not contain spaces or control characters", field="email")
    return cleaned


def check_password(password: str) -> None:
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", field="password")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput("password is too long", field="password")


async def create_user(
    session: AsyncSession,
    passwords: Passwords,
    email: str,
    password: str,
    *,
    now: int,
    roles: Sequence[str] = (),
    given_name: str | None = None,
    family_name: str | None = None,
) -> User:
    cleaned = check_email(email)
    check_password(password)
    for name, value in (("given_name", given_name), ("family_name", family_name)):
        if value is not None and len(value) > _NAME_CHARS:
            raise InvalidInput(f"{name} is too long", field=name)
    user = User(
        id=str(uuid.uuid4()),
        email=cleaned,
        email_key=email_key(cleaned),
        password_hash=await passwords.hash_async(password),
        given_name=given_name,
        family_name=family_name,
        roles=sorted(set(roles)),
        created_at=now,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise AlreadyExists(f"a user with email {cleaned} exists", field="email") from None
    return user


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    rows = await session.execute(select(User).where(User.email_key == email_key(email)))
    return rows.scalars().first()


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def list_users(session: AsyncSession) -> list[User]:
    rows = await session.execute(select(User).order_by(User.email_key))
    return list(rows.scalars())


async def count_users(session: AsyncSession) -> int:
    return len((await session.execute(select(User.id).limit(1))).all())
