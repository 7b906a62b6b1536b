"""End users: creation with normalised identifiers, password sign-in, claims."""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import short_id
from portico.services.passwords import hash_password, needs_rehash, verify_password
from portico.storage import users as repo
from portico.storage.database import now_ms

log = logging.getLogger("portico.users")

USERNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")  # Logto's username rule
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\d{5,20}$")


class InvalidUser(ValueError):
    """A value of the user is not acceptable, or an identifier is already taken."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_user(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    username: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    password: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    if username is not None and not USERNAME_RE.match(username):
        raise InvalidUser("username must start with a letter or _ and hold letters, digits, _")
    if email is not None:
        email = normalise_email(email)
        if not EMAIL_RE.match(email) or len(email) > 128:
            raise InvalidUser("email is not a valid address")
    if phone is not None and not PHONE_RE.match(phone):
        raise InvalidUser("phone must be digits only, with the country code")
    if not (username or email or phone):
        raise InvalidUser("a user needs a username, an email or a phone number")
    encrypted, method = (None, None)
    if password is not None:
        if len(password) < 8:
            raise InvalidUser("password must be at least 8 characters")
        encrypted, method = await hash_password(password)
    now = now_ms()
    row = {
        "tenant_id": tenant_id,
        "id": short_id(),
        "username": username,
        "primary_email": email,
        "primary_phone": phone,
        "password_encrypted": encrypted,
        "password_encryption_method": method,
        "name": name,
        "avatar": None,
        "profile": {},
        "identities": {},
        "custom_data": {},
        "is_suspended": False,
        "last_sign_in_at": None,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with conn.begin_nested():
            await repo.insert_user(conn, row)
    except IntegrityError:
        raise InvalidUser("username, email or phone is already in use") from None
    return row


async def authenticate(
    conn: AsyncConnection, tenant_id: str, identifier: str, password: str
) -> dict[str, Any] | None:
    """The user if the password is right and the account usable; same work either way.
    A password stored with another method (an imported Logto, bcrypt or SHA hash) or weaker
    Argon2id parameters is stored again as Argon2id now that it is known."""
    user = (
        await repo.find_by_identifier(conn, tenant_id, identifier.strip()) if identifier else None
    )
    encrypted = user["password_encrypted"] if user else None
    method = user["password_encryption_method"] if user else None
    ok = await verify_password(encrypted, method, password)
    if not ok or user is None or user["is_suspended"]:
        return None
    assert encrypted is not None and method is not None
    if needs_rehash(encrypted, method):
        user = await _upgrade_hash(conn, user, password)
    return user


async def _upgrade_hash(
    conn: AsyncConnection, user: dict[str, Any], password: str
) -> dict[str, Any]:
    """Store the new hash in a transaction of its own: callers check passwords on a read-only
    connection, and the upgrade must not wait for (or be undone with) their work. Guarded by
    the old value, so a password changed meanwhile is never overwritten. A failure only
    postpones the upgrade to the next sign-in."""
    encrypted, method = await hash_password(password)
    try:
        async with conn.engine.begin() as own:
            changed = await repo.replace_password(
                own, user["id"], user["password_encrypted"], encrypted, method, now_ms()
            )
    except SQLAlchemyError as error:
        log.warning(
            "upgrading the password hash of %s failed: %s", user["id"], type(error).__name__
        )
        return user
    if not changed:
        return user
    return {**user, "password_encrypted": encrypted, "password_encryption_method": method}
