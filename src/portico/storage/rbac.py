"""SQL for API resources, scopes, roles and their relations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import (
    applications_roles,
    resources,
    roles,
    roles_scopes,
    scopes,
    users_roles,
)


async def get_resource_by_indicator(
    conn: AsyncConnection, tenant_id: str, indicator: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(resources).where(
                resources.c.tenant_id == tenant_id, resources.c.indicator == indicator
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def get_default_resource(conn: AsyncConnection, tenant_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(resources).where(resources.c.tenant_id == tenant_id, resources.c.is_default)
        )
    ).first()
    return dict(row._mapping) if row else None


async def insert_rows(conn: AsyncConnection, table_name: str, rows: list[dict[str, Any]]) -> None:
    table = {
        "resources": resources,
        "scopes": scopes,
        "roles": roles,
        "roles_scopes": roles_scopes,
        "users_roles": users_roles,
        "applications_roles": applications_roles,
    }[table_name]
    if rows:
        await conn.execute(insert(table).values(rows))


async def get_role_by_name(
    conn: AsyncConnection, tenant_id: str, name: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(roles).where(roles.c.tenant_id == tenant_id, roles.c.name == name)
        )
    ).first()
    return dict(row._mapping) if row else None


async def scopes_of_resource(conn: AsyncConnection, resource_id: str) -> dict[str, str]:
    """Scope name -> scope id for one resource."""
    rows = await conn.execute(
        select(scopes.c.name, scopes.c.id).where(scopes.c.resource_id == resource_id)
    )
    return {r.name: r.id for r in rows}


async def user_scope_names(conn: AsyncConnection, user_id: str, resource_id: str) -> set[str]:
    """Scopes of ``resource_id`` that the user's roles grant."""
    rows = await conn.execute(
        select(scopes.c.name)
        .join(roles_scopes, roles_scopes.c.scope_id == scopes.c.id)
        .join(users_roles, users_roles.c.role_id == roles_scopes.c.role_id)
        .where(users_roles.c.user_id == user_id, scopes.c.resource_id == resource_id)
    )
    return {r.name for r in rows}


async def application_scope_names(conn: AsyncConnection, app_id: str, resource_id: str) -> set[str]:
    """Scopes of ``resource_id`` that the application's machine-to-machine roles grant."""
    rows = await conn.execute(
        select(scopes.c.name)
        .join(roles_scopes, roles_scopes.c.scope_id == scopes.c.id)
        .join(applications_roles, applications_roles.c.role_id == roles_scopes.c.role_id)
        .where(applications_roles.c.application_id == app_id, scopes.c.resource_id == resource_id)
    )
    return {r.name for r in rows}


async def user_role_names(conn: AsyncConnection, user_id: str) -> list[str]:
    rows = await conn.execute(
        select(roles.c.name)
        .join(users_roles, users_roles.c.role_id == roles.c.id)
        .where(users_roles.c.user_id == user_id)
        .order_by(roles.c.name)
    )
    return [r.name for r in rows]
