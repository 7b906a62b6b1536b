"""API resources, their scopes, roles, and what a user or an application may be granted."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import standard_id
from portico.storage import rbac as repo
from portico.storage.database import now_ms


class RoleType(StrEnum):
    USER = "User"
    M2M = "MachineToMachine"


class InvalidRbac(ValueError):
    """A resource, scope or role value is unacceptable or already exists."""


def validate_indicator(indicator: str) -> str:
    """RFC 8707 §2: an absolute URI without a fragment."""
    parts = urlsplit(indicator)
    if not parts.scheme or parts.fragment or "#" in indicator or len(indicator) > 2048:
        raise InvalidRbac(f"resource indicator {indicator!r} must be an absolute URI")
    return indicator


async def create_resource(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    indicator: str,
    name: str | None = None,
    scopes: list[str] | None = None,
    access_token_ttl: int = 3600,
    resource_id: str | None = None,
) -> dict[str, Any]:
    validate_indicator(indicator)
    row = {
        "tenant_id": tenant_id,
        "id": resource_id or standard_id(),
        "name": name or indicator,
        "indicator": indicator,
        "is_default": False,
        "access_token_ttl": access_token_ttl,
    }
    try:
        async with conn.begin_nested():
            await repo.insert_rows(conn, "resources", [row])
            await add_scopes(conn, tenant_id, row["id"], scopes or [])
    except IntegrityError:
        raise InvalidRbac(f"resource {indicator!r} already exists") from None
    return row


async def add_scopes(
    conn: AsyncConnection, tenant_id: str, resource_id: str, names: list[str]
) -> None:
    for name in names:
        if not name or " " in name or len(name) > 256:
            raise InvalidRbac(f"scope name {name!r} must be 1-256 characters without spaces")
    await repo.insert_rows(
        conn,
        "scopes",
        [
            {
                "tenant_id": tenant_id,
                "id": standard_id(),
                "resource_id": resource_id,
                "name": name,
                "description": None,
                "created_at": now_ms(),
            }
            for name in dict.fromkeys(names)
        ],
    )


async def create_role(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    name: str,
    role_type: RoleType = RoleType.USER,
    description: str = "",
    indicator: str | None = None,
    scope_names: list[str] | None = None,
) -> dict[str, Any]:
    """Create a role, optionally granting scopes of one resource (by indicator)."""
    row = {
        "tenant_id": tenant_id,
        "id": standard_id(),
        "name": name,
        "description": description or name,
        "type": role_type.value,
        "is_default": False,
    }
    scope_ids: list[str] = []
    if scope_names:
        if not indicator:
            raise InvalidRbac("scopes need the resource indicator they belong to")
        resource = await repo.get_resource_by_indicator(conn, tenant_id, indicator)
        if resource is None:
            raise InvalidRbac(f"no resource with indicator {indicator!r}")
        known = await repo.scopes_of_resource(conn, resource["id"])
        missing = [s for s in scope_names if s not in known]
        if missing:
            raise InvalidRbac(f"resource {indicator!r} has no scope(s) {', '.join(missing)}")
        scope_ids = [known[s] for s in dict.fromkeys(scope_names)]
    try:
        async with conn.begin_nested():
            await repo.insert_rows(conn, "roles", [row])
            await repo.insert_rows(
                conn,
                "roles_scopes",
                [{"tenant_id": tenant_id, "role_id": row["id"], "scope_id": s} for s in scope_ids],
            )
    except IntegrityError:
        raise InvalidRbac(f"role {name!r} already exists") from None
    return row


async def assign_role(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    role_name: str,
    user_id: str | None = None,
    app_id: str | None = None,
) -> None:
    """Give a role to a user (User roles) or an application (MachineToMachine roles)."""
    role = await repo.get_role_by_name(conn, tenant_id, role_name)
    if role is None:
        raise InvalidRbac(f"no role named {role_name!r}")
    expected = RoleType.USER if user_id else RoleType.M2M
    if role["type"] != expected.value:
        raise InvalidRbac(f"role {role_name!r} is a {role['type']} role")
    table, key, value = (
        ("users_roles", "user_id", user_id)
        if user_id
        else ("applications_roles", "application_id", app_id)
    )
    try:
        async with conn.begin_nested():
            await repo.insert_rows(
                conn, table, [{"tenant_id": tenant_id, key: value, "role_id": role["id"]}]
            )
    except IntegrityError:
        raise InvalidRbac(f"role {role_name!r} is already assigned") from None
