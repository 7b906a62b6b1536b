"""Personal access tokens (Logto's ``/api/users/:id/personal-access-tokens``): long-lived
tokens a user (through an admin) hands to a script, exchanged at the token endpoint for an
access token (``urn:logto:token-type:personal_access_token``). Only a digest is stored, so a
token's value is shown once, at creation (Logto lists it)."""

from __future__ import annotations

import secrets
import string
from typing import Any

from portico.ids import digest
from portico.services.errors import NotFound, ServiceError
from portico.storage import personal_access_tokens as repo
from portico.storage.database import now_ms

PREFIX = "pat_"
ALPHABET = string.ascii_letters + string.digits
MAX_NAME = 256


def _view(row: dict[str, Any], value: str | None = None) -> dict[str, Any]:
    view = {"tenantId": row["tenant_id"], "userId": row["user_id"], "name": row["name"],
            "createdAt": row["created_at"], "expiresAt": row["expires_at"]}  # fmt: skip
    if value is not None:
        view["value"] = value
    return view


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ServiceError("The name must be 1 to 256 characters.", code="request.invalid_input")
    return name


async def list_tokens(conn: Any, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    return [_view(r) for r in await repo.list_for(conn, tenant_id, user_id)]


async def create(
    conn: Any, tenant_id: str, user_id: str, name: str, expires_at: int | None
) -> dict[str, Any]:
    """A new token (its value in the answer, once)."""
    now = now_ms()
    if expires_at is not None and expires_at <= now:
        raise ServiceError("expiresAt must be in the future.", code="request.invalid_input")
    value = PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(32))
    row = {"tenant_id": tenant_id, "user_id": user_id, "name": _name(name),
           "value_digest": digest(value), "created_at": now, "expires_at": expires_at}  # fmt: skip
    if not await repo.insert_token(conn, row):
        raise ServiceError("A token of this name exists.",
                           code="user.personal_access_token_name_exists", status=422)  # fmt: skip
    return _view(row, value)


async def rename(
    conn: Any, tenant_id: str, user_id: str, name: str, new_name: str
) -> dict[str, Any]:
    renamed = await repo.rename(conn, tenant_id, user_id, name, _name(new_name))
    if renamed is None:
        raise ServiceError("A token of this name exists.",
                           code="user.personal_access_token_name_exists", status=422)  # fmt: skip
    if not renamed:
        raise NotFound("personal access token", name)
    found = [r for r in await repo.list_for(conn, tenant_id, user_id) if r["name"] == new_name]
    return _view(found[0])


async def delete(conn: Any, tenant_id: str, user_id: str, name: str) -> None:
    if not await repo.delete_token(conn, tenant_id, user_id, name):
        raise NotFound("personal access token", name)


async def owner(engine: Any, tenant_id: str, value: str) -> str | None:
    """The user of a valid (unexpired) token."""
    if not value.startswith(PREFIX) or len(value) > 64:
        return None
    return await repo.owner(engine, tenant_id, digest(value), now_ms())
