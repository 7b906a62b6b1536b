"""End users: creation with normalised identifiers, profile changes, passwords, suspension.

Writes take the caller's connection so that one request is one transaction. Identifier
clashes are told apart (Logto's ``user.username_already_in_use`` / ``email`` / ``phone``).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.ids import short_id
from portico.services import emails, identities, phones
from portico.services.errors import NotFound, ServiceError
from portico.services.password_policy import PasswordPolicy, Rejection
from portico.services.password_policy import check_password as check_policy
from portico.services.passwords import (
    MAX_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from portico.storage import artifacts
from portico.storage import rbac as rbac_repo
from portico.storage import users as repo
from portico.storage.database import now_ms

log = logging.getLogger("portico.users")

USERNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")  # Logto's username rule
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = phones.E164_DIGITS  # E.164 digits without "+", as Logto stores them
MIN_PASSWORD_LENGTH = 8
# Hashes that ``passwords.verify_password`` can check, as imported through ``passwordDigest``.
IMPORTABLE_HASHES = {"Argon2i": "$argon2i$", "Argon2id": "$argon2id$", "Argon2d": "$argon2d$"}

_TAKEN = {
    "username": "user.username_already_in_use",
    "email": "user.email_already_in_use",
    "phone": "user.phone_already_in_use",
}


class InvalidUser(ServiceError):
    """A value of the user is not acceptable, or an identifier is already taken."""


AVATAR_RE = re.compile(r"^https?://\S+$")


def check_admin_set_password(password: str) -> None:
    """What an administrator may set as a user's password (/api checks the same bounds in its
    body schema): 8 to 256 characters, not held to the sign-in password policy, as in Logto."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidUser(
            f"The password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
            code="user.password_length",
        )


def check_avatar(avatar: str) -> None:
    """An avatar is empty or an http(s) URL (the pattern /api's body schema uses)."""
    if avatar and (len(avatar) > 2048 or not AVATAR_RE.match(avatar)):
        raise InvalidUser("The avatar must be an http or https URL.", code="user.invalid_avatar")


def normalise_email(email: str) -> str | None:
    """The one stored form (``services/emails.canonical``); None when it cannot be one."""
    return emails.canonical(email)


def _identifiers(
    username: str | None, email: str | None, phone: str | None
) -> tuple[str | None, str | None, str | None]:
    if username is not None:
        username = unicodedata.normalize("NFKC", username)
        if not USERNAME_RE.match(username):
            raise InvalidUser("username must start with a letter or _ and hold letters, digits, _")
    if email is not None:
        canonical = normalise_email(email)
        if canonical is None or not EMAIL_RE.match(canonical):
            raise InvalidUser("email is not a valid address")
        email = canonical
    if phone is not None:
        phone = unicodedata.normalize("NFKC", phone)
    if phone is not None and not PHONE_RE.match(phone):
        raise InvalidUser("phone must be E.164 digits: country code first, at most 15 digits")
    return username, email, phone


async def _ensure_free(
    conn: AsyncConnection,
    tenant_id: str,
    username: str | None,
    email: str | None,
    phone: str | None,
    other_than: str | None = None,
) -> None:
    taken = await repo.taken_identifier(
        conn, tenant_id, username=username, email=email, phone=phone, other_than=other_than
    )
    if taken:
        raise InvalidUser(f"this {taken} is already in use", code=_TAKEN[taken], status=422)


async def _hashed(password: str) -> tuple[str, str]:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidUser(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidUser(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    return await hash_password(password)


def _imported(digest: str, algorithm: str) -> tuple[str, str]:
    prefix = IMPORTABLE_HASHES.get(algorithm)
    if prefix is None:
        raise InvalidUser(
            f"passwordAlgorithm {algorithm} cannot be verified by Portico; "
            f"use one of {', '.join(IMPORTABLE_HASHES)}",
            code="user.password_algorithm_not_supported",
            status=422,
        )
    if not digest.startswith(prefix):
        raise InvalidUser(f"passwordDigest is not an encoded {algorithm} hash")
    return digest, algorithm


async def create_user(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    username: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    password: str | None = None,
    name: str | None = None,
    avatar: str | None = None,
    custom_data: dict[str, Any] | None = None,
    profile: dict[str, Any] | None = None,
    password_digest: str | None = None,
    password_algorithm: str | None = None,
) -> dict[str, Any]:
    """Create a user, holding the tenant's default roles. ``password`` is hashed with
    Argon2id; ``password_digest`` + ``password_algorithm`` import an existing Argon2 hash
    (Logto's user import)."""
    username, email, phone = _identifiers(username, email, phone)
    if password is not None and password_digest is not None:
        raise InvalidUser(
            "give either password or passwordDigest, not both", code="user.password_and_digest"
        )
    encrypted, method = (None, None)
    if password is not None:
        encrypted, method = await _hashed(password)
    elif password_digest is not None:
        if not password_algorithm:
            raise InvalidUser(
                "passwordDigest needs passwordAlgorithm", code="user.password_algorithm_required"
            )
        encrypted, method = _imported(password_digest, password_algorithm)
    await _ensure_free(conn, tenant_id, username, email, phone)
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
        "avatar": avatar,
        "profile": profile or {},
        "identities": {},
        "custom_data": custom_data or {},
        "is_suspended": False,
        "last_sign_in_at": None,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with conn.begin_nested():
            await repo.insert_user(conn, row)
    except IntegrityError:  # taken by a concurrent request since the check
        raise InvalidUser(
            "username, email or phone is already in use", code="user.identifier_in_use", status=422
        ) from None
    await rbac_repo.insert_rows(
        conn,
        "users_roles",
        [
            {"tenant_id": tenant_id, "user_id": row["id"], "role_id": role_id}
            for role_id in await rbac_repo.default_role_ids(conn, tenant_id)
        ],
    )
    return row


async def get_user(
    conn: AsyncConnection, tenant_id: str, user_id: str, *, for_update: bool = False
) -> dict[str, Any]:
    user = await repo.get_user(conn, tenant_id, user_id, for_update=for_update)
    if user is None:
        raise NotFound("user", user_id)
    return user


async def _write(
    conn: AsyncConnection, tenant_id: str, user: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    values = {**values, "updated_at": now_ms()}
    try:
        async with conn.begin_nested():
            await repo.update_user(conn, tenant_id, user["id"], values)
    except IntegrityError:
        raise InvalidUser(
            "username, email or phone is already in use", code="user.identifier_in_use", status=422
        ) from None
    return {**user, **values}


async def update_user(
    conn: AsyncConnection, tenant_id: str, user_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Replace the given members; keys are column names (``username``, ``primary_email``,
    ``primary_phone``, ``name``, ``avatar``, ``custom_data``, ``profile``). An empty string or
    ``None`` clears an identifier, as in Logto."""
    user = await get_user(conn, tenant_id, user_id, for_update=True)
    values = {k: (None if v == "" else v) for k, v in changes.items()}
    username, email, phone = _identifiers(
        values.get("username"), values.get("primary_email"), values.get("primary_phone")
    )
    for column, value in (
        ("username", username),
        ("primary_email", email),
        ("primary_phone", phone),
    ):
        if column in values:
            values[column] = value
    await _ensure_free(
        conn,
        tenant_id,
        values.get("username"),
        values.get("primary_email"),
        values.get("primary_phone"),
        other_than=user_id,
    )
    return await _write(conn, tenant_id, user, values)


async def merge_custom_data(
    conn: AsyncConnection, tenant_id: str, user_id: str, patch: dict[str, Any]
) -> dict[str, Any]:
    """Shallow-merge ``patch`` into ``customData`` (Logto's JSON merge); return the result."""
    user = await get_user(conn, tenant_id, user_id, for_update=True)
    merged = {**(user["custom_data"] or {}), **patch}
    await _write(conn, tenant_id, user, {"custom_data": merged})
    return merged


async def set_password(
    conn: AsyncConnection, tenant_id: str, user_id: str, password: str
) -> dict[str, Any]:
    """A new password set by an administrator (Management API, console). Every session,
    code and token of the user ends with the old password (ASVS 6.4: whoever knew it must
    not stay signed in through a refresh token or an old browser session)."""
    user = await get_user(conn, tenant_id, user_id, for_update=True)
    encrypted, method = await _hashed(password)
    updated = await _write(
        conn,
        tenant_id,
        user,
        {"password_encrypted": encrypted, "password_encryption_method": method},
    )
    await artifacts.revoke_account(conn, tenant_id, user_id)
    return updated


async def store_password_hash(
    conn: AsyncConnection, tenant_id: str, user_id: str, encrypted: str, method: str
) -> dict[str, Any]:
    """Store a password the sign-in experience already hashed (a sign-up, a password added
    at sign-in, a reset by the user), in the caller's transaction. Unlike
    :func:`set_password`, no grant is ended here: the caller decides (a reset does)."""
    user = await get_user(conn, tenant_id, user_id, for_update=True)
    values = {"password_encrypted": encrypted, "password_encryption_method": method}
    return await _write(conn, tenant_id, user, values)


async def check_password(
    conn: AsyncConnection, tenant_id: str, user_id: str, password: str
) -> None:
    """Raise Logto's 422 ``session.invalid_credentials`` unless ``password`` is the user's.
    A user without a password costs the same hash as a wrong password."""
    user = await get_user(conn, tenant_id, user_id)
    if not await verify_password(
        user["password_encrypted"], user["password_encryption_method"], password
    ):
        raise InvalidUser(
            "The password is not correct.", code="session.invalid_credentials", status=422
        )


async def policy_rejections(
    conn: AsyncConnection,
    tenant_id: str,
    policy: PasswordPolicy,
    password: str,
    user_id: str | None = None,
) -> list[Rejection]:
    """What the password policy says of ``password``, checked against the user's own details
    (name, email, phone...) when ``user_id`` is given: 404 when that user does not exist,
    so a console typo is not mistaken for a pass."""
    user = await get_user(conn, tenant_id, user_id) if user_id else None
    return check_policy(password, policy, user)


async def set_suspended(
    conn: AsyncConnection, tenant_id: str, user_id: str, suspended: bool
) -> dict[str, Any]:
    """Suspend (and sign out everywhere: sessions, codes, refresh tokens) or reinstate."""
    user = await get_user(conn, tenant_id, user_id, for_update=True)
    updated = await _write(conn, tenant_id, user, {"is_suspended": suspended})
    if suspended:
        await artifacts.revoke_account(conn, tenant_id, user_id)
    return updated


async def delete_user(conn: AsyncConnection, tenant_id: str, user_id: str) -> None:
    """Delete the user, their role assignments (cascade) and every session and token."""
    if not await repo.delete_user(conn, tenant_id, user_id):
        raise NotFound("user", user_id)
    await artifacts.revoke_account(conn, tenant_id, user_id)


# Social identities (``users.identities``: ``{target: {userId, details?}}``) ---------------
async def put_identity(
    conn: AsyncConnection, tenant_id: str, user_id: str, target: str, identity: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """Link (or replace) the identity at ``target``; ``(identities, created)``. Goes through
    :mod:`portico.services.identities`, which keeps the lookup table in step."""
    user = await get_user(conn, tenant_id, user_id, for_update=True)
    try:
        await identities.link(
            conn, tenant_id, user_id, target, identity["userId"], identity.get("details")
        )
    except identities.IdentityTaken:
        raise InvalidUser(
            "this identity is linked to another user",
            code="user.identity_already_in_use",
            status=422,
        ) from None
    stored = await get_user(conn, tenant_id, user_id)
    return stored["identities"], target not in (user["identities"] or {})


def identity_of(user: dict[str, Any], target: str) -> dict[str, Any]:
    identities = user["identities"] or {}
    if target not in identities:
        raise ServiceError(
            f"The user has no identity for `{target}`.", code="user.identity_not_exist", status=404
        )
    return identities[target]


async def delete_identity(
    conn: AsyncConnection, tenant_id: str, user_id: str, target: str
) -> dict[str, Any]:
    user = await get_user(conn, tenant_id, user_id, for_update=True)
    identity_of(user, target)
    await identities.unlink(conn, tenant_id, user_id, target)
    return await get_user(conn, tenant_id, user_id)


async def authenticate(
    engine: AsyncEngine, tenant_id: str, identifier: str, password: str
) -> dict[str, Any] | None:
    """The user if the password is right and the account usable; same work either way.
    A password stored with another method (an imported Logto, bcrypt or SHA hash) or weaker
    Argon2id parameters is stored again as Argon2id now that it is known. No connection is
    held while the password is checked (tens of milliseconds of a pooled connection)."""
    user = (
        await repo.read_by_identifier(engine, tenant_id, identifier.strip()) if identifier else None
    )
    return await verify_credentials(engine, user, password)


async def verify_credentials(
    engine: AsyncEngine, user: dict[str, Any] | None, password: str
) -> dict[str, Any] | None:
    """:func:`authenticate` for a user already read (or None: the same work, and None)."""
    encrypted = user["password_encrypted"] if user else None
    method = user["password_encryption_method"] if user else None
    ok = await verify_password(encrypted, method, password)
    if not ok or user is None or user["is_suspended"]:
        return None
    assert encrypted is not None and method is not None
    if needs_rehash(encrypted, method):
        user = await _upgrade_hash(engine, user, password)
    return user


async def _upgrade_hash(engine: AsyncEngine, user: dict[str, Any], password: str) -> dict[str, Any]:
    """Store the new hash in a transaction of its own: the upgrade must not wait for (or be
    undone with) the caller's work. Guarded by the old value, so a password changed
    meanwhile is never overwritten. A failure only postpones the upgrade to the next
    sign-in."""
    encrypted, method = await hash_password(password)
    try:
        async with engine.begin() as own:
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
