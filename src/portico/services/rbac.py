"""API resources, their scopes, roles, and what a user or an application may be granted.

Logto's rules: roles are ``User`` or ``MachineToMachine`` and go to users or machine-to-machine
applications respectively; the Management API resource and its scopes cannot be changed, and
its scopes cannot be granted to user roles. Writes take the caller's connection so that one
request is one transaction.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import standard_id
from portico.services import applications as app_service
from portico.services import users as user_service
from portico.services.bootstrap import MANAGEMENT_API_INDICATOR
from portico.services.errors import NotFound, ServiceError
from portico.storage import rbac as repo
from portico.storage.database import now_ms

_WHITESPACE = re.compile(r"\s")


class RoleType(StrEnum):
    USER = "User"
    M2M = "MachineToMachine"


class InvalidRbac(ServiceError):
    """A resource, scope or role value is unacceptable or already exists."""


def validate_indicator(indicator: str) -> str:
    """RFC 8707 §2: an absolute URI without a fragment."""
    parts = urlsplit(indicator)
    if not parts.scheme or parts.fragment or "#" in indicator or len(indicator) > 2048:
        raise InvalidRbac(f"resource indicator {indicator!r} must be an absolute URI")
    return indicator


MAX_ACCESS_TOKEN_TTL = 86400 * 365  # seconds; the bound /api's body schema also sets


def check_resource_values(name: str, access_token_ttl: int) -> None:
    """A resource's name (1 to 256 characters) and access token lifetime (1 s to a year), as
    /api's body schema checks them; for callers without that schema (the console)."""
    if not 1 <= len(name) <= 256:
        raise InvalidRbac("The API name must be 1 to 256 characters.")
    if not 1 <= access_token_ttl <= MAX_ACCESS_TOKEN_TTL:
        raise InvalidRbac(f"The token lifetime must be from 1 to {MAX_ACCESS_TOKEN_TTL} seconds.")


def check_role_values(name: str, description: str) -> None:
    """A role's name (1 to 128 characters) and description (at most 128, may be empty):
    /api's body schema bounds."""
    if not 1 <= len(name) <= 128:
        raise InvalidRbac("The role name must be 1 to 128 characters.")
    if len(description) > 128:
        raise InvalidRbac("The description must be at most 128 characters.")


def is_management_api(resource: dict[str, Any]) -> bool:
    return bool(resource["indicator"] == MANAGEMENT_API_INDICATOR)


# Resources ---------------------------------------------------------------------------------
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
    if await repo.get_resource_by_indicator(conn, tenant_id, indicator):
        raise _indicator_in_use(indicator)
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
        raise _indicator_in_use(indicator) from None
    return row


def _indicator_in_use(indicator: str) -> InvalidRbac:
    return InvalidRbac(
        f"resource {indicator!r} already exists",
        code="resource.resource_identifier_in_use",
        status=422,
    )


async def get_resource(conn: AsyncConnection, tenant_id: str, resource_id: str) -> dict[str, Any]:
    row = await repo.get_row(conn, "resources", tenant_id, resource_id)
    if row is None:
        raise NotFound("resource", resource_id)
    return row


async def _changeable_resource(
    conn: AsyncConnection, tenant_id: str, resource_id: str, verb: str = "modify"
) -> dict[str, Any]:
    resource = await get_resource(conn, tenant_id, resource_id)
    if is_management_api(resource):
        done = "modified" if verb == "modify" else "deleted"
        raise InvalidRbac(
            f"The Management API resource cannot be {done}.",
            code=f"resource.cannot_{verb}_management_api",
        )
    return resource


async def update_resource(
    conn: AsyncConnection, tenant_id: str, resource_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """``changes``: ``name``, ``access_token_ttl``."""
    resource = await _changeable_resource(conn, tenant_id, resource_id)
    if changes:
        await repo.update_row(conn, "resources", tenant_id, resource_id, changes)
    return {**resource, **changes}


async def set_default_resource(
    conn: AsyncConnection, tenant_id: str, resource_id: str, is_default: bool
) -> dict[str, Any]:
    """Make this the resource access tokens are for when a client names none (at most one)."""
    resource = await get_resource(conn, tenant_id, resource_id)
    if is_default:
        await repo.set_default_resource(conn, tenant_id, resource_id)
    else:
        await repo.update_row(conn, "resources", tenant_id, resource_id, {"is_default": False})
    return {**resource, "is_default": is_default}


async def delete_resource(conn: AsyncConnection, tenant_id: str, resource_id: str) -> None:
    await _changeable_resource(conn, tenant_id, resource_id, "delete")
    await repo.delete_row(conn, "resources", tenant_id, resource_id)


# Scopes ------------------------------------------------------------------------------------
def _scope_name(name: str) -> str:
    if not name or len(name) > 256:
        raise InvalidRbac("a scope name must be 1 to 256 characters")
    if _WHITESPACE.search(name):
        raise InvalidRbac(f"scope name {name!r} contains a space", code="scope.name_with_space")
    return name


async def add_scopes(
    conn: AsyncConnection, tenant_id: str, resource_id: str, names: list[str]
) -> None:
    """Seed scopes by name (CLI); the Management API creates them one by one."""
    await repo.insert_rows(
        conn,
        "scopes",
        [
            {
                "tenant_id": tenant_id,
                "id": standard_id(),
                "resource_id": resource_id,
                "name": _scope_name(name),
                "description": None,
                "created_at": now_ms(),
            }
            for name in dict.fromkeys(names)
        ],
    )


def _name_exists(name: str) -> InvalidRbac:
    return InvalidRbac(
        f"the resource already has a scope named {name!r}", code="scope.name_exists", status=422
    )


async def create_scope(
    conn: AsyncConnection,
    tenant_id: str,
    resource_id: str,
    name: str,
    description: str | None,
) -> dict[str, Any]:
    _scope_name(name)
    await _changeable_resource(conn, tenant_id, resource_id)
    if await repo.scope_named(conn, resource_id, name):
        raise _name_exists(name)
    row = {
        "tenant_id": tenant_id,
        "id": standard_id(),
        "resource_id": resource_id,
        "name": name,
        "description": description,
        "created_at": now_ms(),
    }
    await repo.insert_rows(conn, "scopes", [row])
    return row


async def _scope_of(
    conn: AsyncConnection, tenant_id: str, resource_id: str, scope_id: str
) -> dict[str, Any]:
    scope = await repo.get_row(conn, "scopes", tenant_id, scope_id)
    if scope is None or scope["resource_id"] != resource_id:
        raise NotFound("scope", scope_id)
    return scope


async def update_scope(
    conn: AsyncConnection,
    tenant_id: str,
    resource_id: str,
    scope_id: str,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """``changes``: ``name``, ``description``."""
    await _changeable_resource(conn, tenant_id, resource_id)
    scope = await _scope_of(conn, tenant_id, resource_id, scope_id)
    name = changes.get("name")
    if name is not None and name != scope["name"]:
        _scope_name(name)
        if await repo.scope_named(conn, resource_id, name):
            raise _name_exists(name)
    if changes:
        await repo.update_row(conn, "scopes", tenant_id, scope_id, changes)
    return {**scope, **changes}


async def delete_scope(
    conn: AsyncConnection, tenant_id: str, resource_id: str, scope_id: str
) -> None:
    await _changeable_resource(conn, tenant_id, resource_id)
    await _scope_of(conn, tenant_id, resource_id, scope_id)
    await repo.delete_row(conn, "scopes", tenant_id, scope_id)


# Roles -------------------------------------------------------------------------------------
async def get_role(conn: AsyncConnection, tenant_id: str, role_id: str) -> dict[str, Any]:
    row = await repo.get_row(conn, "roles", tenant_id, role_id)
    if row is None:
        raise NotFound("role", role_id)
    return row


async def _ensure_role_name_free(
    conn: AsyncConnection, tenant_id: str, name: str, other_than: str | None = None
) -> None:
    existing = await repo.get_role_by_name(conn, tenant_id, name)
    if existing is not None and existing["id"] != other_than:
        raise InvalidRbac(
            f"The role name {name!r} is already in use.", code="role.name_in_use", status=422
        )


async def create_role(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    name: str,
    role_type: RoleType = RoleType.USER,
    description: str = "",
    is_default: bool = False,
    indicator: str | None = None,
    scope_names: list[str] | None = None,
    scope_ids: list[str] | None = None,
) -> dict[str, Any]:
    """Create a role granting scopes given by id, or by name within one resource (CLI)."""
    ids = list(dict.fromkeys(scope_ids or []))
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
        ids += [known[s] for s in dict.fromkeys(scope_names) if known[s] not in ids]
    await _ensure_role_name_free(conn, tenant_id, name)
    row = {
        "tenant_id": tenant_id,
        "id": standard_id(),
        "name": name,
        "description": description or name,
        "type": role_type.value,
        "is_default": is_default,
    }
    await _check_grantable(conn, tenant_id, row, ids)
    try:
        async with conn.begin_nested():
            await repo.insert_rows(conn, "roles", [row])
            await _link_scopes(conn, tenant_id, row["id"], ids)
    except IntegrityError:
        raise InvalidRbac(
            f"The role name {name!r} is already in use.", code="role.name_in_use", status=422
        ) from None
    return row


async def update_role(
    conn: AsyncConnection, tenant_id: str, role_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """``changes``: ``name``, ``description``, ``is_default``."""
    role = await get_role(conn, tenant_id, role_id)
    if "name" in changes:
        await _ensure_role_name_free(conn, tenant_id, changes["name"], other_than=role_id)
    if changes:
        await repo.update_row(conn, "roles", tenant_id, role_id, changes)
    return {**role, **changes}


async def delete_role(conn: AsyncConnection, tenant_id: str, role_id: str) -> None:
    """Delete the role; its assignments and scope links go with it (cascade)."""
    if not await repo.delete_row(conn, "roles", tenant_id, role_id):
        raise NotFound("role", role_id)


async def _check_grantable(
    conn: AsyncConnection, tenant_id: str, role: dict[str, Any], scope_ids: list[str]
) -> None:
    """Every scope exists; Management API scopes go to machine-to-machine roles only."""
    if not scope_ids:
        return
    _, found = await repo.find_scopes(conn, tenant_id, scope_ids=scope_ids)
    by_id = {s["id"]: s for s in found}
    for scope_id in scope_ids:
        if scope_id not in by_id:
            raise NotFound("scope", scope_id)
    if role["type"] != RoleType.USER.value:
        return
    for scope in found:
        resource = await get_resource(conn, tenant_id, scope["resource_id"])
        if is_management_api(resource):
            raise InvalidRbac(
                "Management API scopes cannot be granted to user roles.",
                code="role.management_api_scopes_not_assignable_to_user_role",
            )


async def _link_scopes(
    conn: AsyncConnection, tenant_id: str, role_id: str, scope_ids: list[str]
) -> None:
    await repo.insert_rows(
        conn,
        "roles_scopes",
        [{"tenant_id": tenant_id, "role_id": role_id, "scope_id": s} for s in scope_ids],
    )


async def add_role_scopes(
    conn: AsyncConnection, tenant_id: str, role_id: str, scope_ids: list[str]
) -> None:
    role = await get_role(conn, tenant_id, role_id)
    linked = await repo.role_scope_ids(conn, role_id)
    for scope_id in scope_ids:
        if scope_id in linked:
            raise InvalidRbac(
                f"The scope `{scope_id}` is already granted by this role.",
                code="role.scope_exists",
                status=422,
            )
    ids = list(dict.fromkeys(scope_ids))
    await _check_grantable(conn, tenant_id, role, ids)
    await _link_scopes(conn, tenant_id, role_id, ids)


async def remove_role_scope(
    conn: AsyncConnection, tenant_id: str, role_id: str, scope_id: str
) -> None:
    await get_role(conn, tenant_id, role_id)
    if not await repo.unlink_scope(conn, role_id, scope_id):
        raise ServiceError(
            "The role does not grant this scope.", code="entity.not_found", status=404
        )


# Assignments -------------------------------------------------------------------------------
_KINDS = {
    # kind: (relation table, role type, code for a role of the wrong type)
    "user": ("users_roles", RoleType.USER, "user.invalid_role_type"),
    "application": ("applications_roles", RoleType.M2M, "application.invalid_role_type"),
}


async def _holder(conn: AsyncConnection, tenant_id: str, kind: str, holder_id: str) -> None:
    """The user or machine-to-machine application exists (404 / 422 otherwise)."""
    if kind == "user":
        await user_service.get_user(conn, tenant_id, holder_id)
        return
    app = await app_service.get_application(conn, tenant_id, holder_id)
    if app["type"] != app_service.AppType.M2M.value:
        raise InvalidRbac(
            "Only machine-to-machine applications have roles.",
            code="application.invalid_type",
            status=422,
        )


async def _roles_of_type(
    conn: AsyncConnection, tenant_id: str, kind: str, role_ids: list[str]
) -> None:
    _, role_type, wrong_type = _KINDS[kind]
    found = {r["id"]: r for r in await repo.roles_by_ids(conn, tenant_id, role_ids)}
    for role_id in role_ids:
        role = found.get(role_id)
        if role is None:
            raise NotFound("role", role_id)
        if role["type"] != role_type.value:
            raise InvalidRbac(
                f"The role `{role_id}` is a {role['type']} role.", code=wrong_type, status=422
            )


async def assign_roles(
    conn: AsyncConnection,
    tenant_id: str,
    kind: str,
    holder_id: str,
    role_ids: list[str],
    *,
    replace: bool = False,
) -> list[str]:
    """Give roles to a user or an application (``kind``), skipping those it already holds;
    ``replace`` also takes away the roles not listed. Returns the role ids added."""
    table, _, _ = _KINDS[kind]
    await _holder(conn, tenant_id, kind, holder_id)
    wanted = list(dict.fromkeys(role_ids))
    held = await repo.assigned_role_ids(conn, table, holder_id)
    added = [r for r in wanted if r not in held]
    await _roles_of_type(conn, tenant_id, kind, added)
    if replace:
        for role_id in held - set(wanted):
            await repo.unassign_role(conn, table, holder_id, role_id)
    key = "user_id" if kind == "user" else "application_id"
    await repo.insert_rows(
        conn, table, [{"tenant_id": tenant_id, key: holder_id, "role_id": r} for r in added]
    )
    return added


async def unassign_role(
    conn: AsyncConnection, tenant_id: str, kind: str, holder_id: str, role_id: str
) -> None:
    table, _, _ = _KINDS[kind]
    await _holder(conn, tenant_id, kind, holder_id)
    if not await repo.unassign_role(conn, table, holder_id, role_id):
        raise ServiceError(
            f"The {kind} does not have this role.", code="entity.not_found", status=404
        )


async def add_role_holders(
    conn: AsyncConnection, tenant_id: str, role_id: str, kind: str, holder_ids: list[str]
) -> None:
    """``POST /roles/:id/users|applications``: every listed holder gets the role; if one
    already has it, nothing is written (Logto: 422 ``role.user_exists``)."""
    table, role_type, wrong_type = _KINDS[kind]
    role = await get_role(conn, tenant_id, role_id)
    if role["type"] != role_type.value:
        raise InvalidRbac(
            f"A {role['type']} role cannot be given to a {kind}.", code=wrong_type, status=422
        )
    ids = list(dict.fromkeys(holder_ids))
    already = await repo.holders_of_role(conn, table, role_id, ids)
    if already:
        raise InvalidRbac(
            f"The {kind} `{sorted(already)[0]}` already has this role.",
            code=f"role.{kind}_exists",
            status=422,
        )
    for holder_id in ids:
        await _holder(conn, tenant_id, kind, holder_id)
    key = "user_id" if kind == "user" else "application_id"
    await repo.insert_rows(
        conn, table, [{"tenant_id": tenant_id, key: h, "role_id": role_id} for h in ids]
    )


async def assign_role(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    role_name: str,
    user_id: str | None = None,
    app_id: str | None = None,
) -> None:
    """Give a role, named, to a user or an application (CLI and seeds)."""
    role = await repo.get_role_by_name(conn, tenant_id, role_name)
    if role is None:
        raise InvalidRbac(f"no role named {role_name!r}")
    kind, holder = ("user", user_id) if user_id else ("application", app_id)
    assert holder is not None
    table = _KINDS[kind][0]
    if role["id"] in await repo.assigned_role_ids(conn, table, holder):
        raise InvalidRbac(f"role {role_name!r} is already assigned")
    if role["type"] != _KINDS[kind][1].value:
        raise InvalidRbac(f"role {role_name!r} is a {role['type']} role")
    key = "user_id" if kind == "user" else "application_id"
    await repo.insert_rows(
        conn, table, [{"tenant_id": tenant_id, key: holder, "role_id": role["id"]}]
    )
