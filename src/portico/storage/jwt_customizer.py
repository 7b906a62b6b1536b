"""SQL for the JWT customizer: removing its configuration rows and reading what a script is
told about a user, an application and an organization (Logto's context shapes are built in
``jwt_customizer/context.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import (
    applications,
    logto_configs,
    organization_role_user_relations,
    organization_roles,
    organization_user_relations,
    organizations,
    resources,
    roles,
    roles_scopes,
    scopes,
    user_mfa_factors,
    users_roles,
)


async def delete_config(conn: AsyncConnection, tenant_id: str, key: str) -> bool:
    result = await conn.execute(
        delete(logto_configs).where(
            logto_configs.c.tenant_id == tenant_id, logto_configs.c.key == key
        )
    )
    return bool(result.rowcount)


async def user_roles(conn: AsyncConnection, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    """The user's roles (``id``, ``name``, ``description``), by name."""
    rows = await conn.execute(
        select(roles.c.id, roles.c.name, roles.c.description)
        .join(users_roles, users_roles.c.role_id == roles.c.id)
        .where(users_roles.c.user_id == user_id, roles.c.tenant_id == tenant_id)
        .order_by(roles.c.name)
    )
    return [dict(r._mapping) for r in rows]


async def role_scopes(conn: AsyncConnection, role_ids: list[str]) -> list[dict[str, Any]]:
    """``(role_id, scope..., resource...)`` for every scope of those roles."""
    if not role_ids:
        return []
    rows = await conn.execute(
        select(
            roles_scopes.c.role_id,
            scopes.c.id,
            scopes.c.name,
            scopes.c.description,
            scopes.c.resource_id,
            scopes.c.created_at,
            scopes.c.tenant_id,
            resources.c.name.label("resource_name"),
            resources.c.indicator,
            resources.c.is_default,
            resources.c.access_token_ttl,
        )
        .join(scopes, scopes.c.id == roles_scopes.c.scope_id)
        .join(resources, resources.c.id == scopes.c.resource_id)
        .where(roles_scopes.c.role_id.in_(role_ids))
        .order_by(scopes.c.name)
    )
    return [dict(r._mapping) for r in rows]


async def user_organizations(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(organizations.c.id, organizations.c.name, organizations.c.description)
        .join(
            organization_user_relations,
            organization_user_relations.c.organization_id == organizations.c.id,
        )
        .where(organization_user_relations.c.user_id == user_id)
        .order_by(organizations.c.name, organizations.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def user_organization_roles(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    """``organizationId``, ``roleId``, ``roleName`` for every organization role held."""
    rows = await conn.execute(
        select(
            organization_role_user_relations.c.organization_id,
            organization_roles.c.id,
            organization_roles.c.name,
        )
        .join(
            organization_roles,
            organization_roles.c.id == organization_role_user_relations.c.organization_role_id,
        )
        .where(organization_role_user_relations.c.user_id == user_id)
        .order_by(organization_role_user_relations.c.organization_id, organization_roles.c.name)
    )
    return [{"organizationId": r[0], "roleId": r[1], "roleName": r[2]} for r in rows]


async def mfa_factor_types(conn: AsyncConnection, tenant_id: str, user_id: str) -> list[str]:
    rows = await conn.execute(
        select(user_mfa_factors.c.type)
        .where(user_mfa_factors.c.tenant_id == tenant_id, user_mfa_factors.c.user_id == user_id)
        .order_by(user_mfa_factors.c.created_at)
    )
    return list(dict.fromkeys(r[0] for r in rows))


async def application(conn: AsyncConnection, tenant_id: str, app_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(applications).where(
                applications.c.tenant_id == tenant_id, applications.c.id == app_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def organization(
    conn: AsyncConnection, tenant_id: str, organization_id: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(
                organizations.c.id,
                organizations.c.name,
                organizations.c.description,
                organizations.c.custom_data,
            ).where(organizations.c.tenant_id == tenant_id, organizations.c.id == organization_id)
        )
    ).first()
    return dict(row._mapping) if row else None
