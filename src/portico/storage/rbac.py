"""SQL for API resources, scopes, roles and their relations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, union, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage import search as search_sql
from portico.storage.tables import (
    applications,
    applications_roles,
    organization_role_resource_scope_relations,
    organization_role_user_relations,
    resources,
    roles,
    roles_scopes,
    scopes,
    users,
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


async def organization_roles_grant_api_scopes(conn: AsyncConnection, tenant_id: str) -> bool:
    granted = organization_role_resource_scope_relations
    query = select(granted.c.scope_id).where(granted.c.tenant_id == tenant_id).limit(1)
    return (await conn.execute(query)).first() is not None


async def user_scope_names(
    conn: AsyncConnection,
    user_id: str,
    resource_id: str,
    organization_id: str | None = None,
    *,
    through_organizations: bool = True,
) -> set[str]:
    """Scopes of ``resource_id`` the user holds. For a plain API token: those the user's
    roles grant and those the user's organization roles grant in any organization (Logto's
    rule; ``through_organizations=False`` when no organization role grants API scopes, which
    saves the second half on every user token). With ``organization_id`` (a token for one
    organization): only those the user's roles in that organization grant."""
    held = organization_role_user_relations
    granted = organization_role_resource_scope_relations
    through_roles = (
        select(scopes.c.name)
        .join(granted, granted.c.scope_id == scopes.c.id)
        .join(held, held.c.organization_role_id == granted.c.organization_role_id)
        .where(held.c.user_id == user_id, scopes.c.resource_id == resource_id)
    )
    if organization_id is not None:
        in_one = through_roles.where(held.c.organization_id == organization_id)
        return {r.name for r in await conn.execute(in_one)}
    own = (
        select(scopes.c.name)
        .join(roles_scopes, roles_scopes.c.scope_id == scopes.c.id)
        .join(users_roles, users_roles.c.role_id == roles_scopes.c.role_id)
        .where(users_roles.c.user_id == user_id, scopes.c.resource_id == resource_id)
    )
    query = union(own, through_roles) if through_organizations else own
    return {r.name for r in await conn.execute(query)}


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


# Management API reads and writes -----------------------------------------------------------
ROLE_SEARCH_FIELDS = {"id": roles.c.id, "name": roles.c.name, "description": roles.c.description}
SCOPE_SEARCH_FIELDS = {
    "id": scopes.c.id,
    "name": scopes.c.name,
    "description": scopes.c.description,
}
_TABLES = {"resources": resources, "scopes": scopes, "roles": roles}


async def get_row(
    conn: AsyncConnection, table_name: str, tenant_id: str, row_id: str
) -> dict[str, Any] | None:
    """A resource, scope or role by id."""
    table = _TABLES[table_name]
    row = (
        await conn.execute(
            select(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id)
        )
    ).first()
    return dict(row._mapping) if row else None


async def update_row(
    conn: AsyncConnection, table_name: str, tenant_id: str, row_id: str, values: dict[str, Any]
) -> bool:
    table = _TABLES[table_name]
    result = await conn.execute(
        update(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id).values(values)
    )
    return result.rowcount == 1


async def delete_row(conn: AsyncConnection, table_name: str, tenant_id: str, row_id: str) -> bool:
    table = _TABLES[table_name]
    result = await conn.execute(
        delete(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id)
    )
    return result.rowcount == 1


async def list_resources(
    conn: AsyncConnection, tenant_id: str, offset: int | None, limit: int | None
) -> tuple[int, list[dict[str, Any]]]:
    where = resources.c.tenant_id == tenant_id
    total = (await conn.execute(select(func.count()).select_from(resources).where(where))).scalar()
    query = select(resources).where(where).order_by(resources.c.name, resources.c.id)
    if limit is not None:
        query = query.offset(offset or 0).limit(limit)
    return int(total or 0), [dict(r._mapping) for r in await conn.execute(query)]


async def set_default_resource(conn: AsyncConnection, tenant_id: str, resource_id: str) -> None:
    """At most one default resource per tenant: clear the others, then set this one."""
    await conn.execute(
        update(resources)
        .where(resources.c.tenant_id == tenant_id, resources.c.id != resource_id)
        .values(is_default=False)
    )
    await conn.execute(
        update(resources)
        .where(resources.c.tenant_id == tenant_id, resources.c.id == resource_id)
        .values(is_default=True)
    )


async def find_scopes(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    resource_id: str | None = None,
    resource_ids: list[str] | None = None,
    role_id: str | None = None,
    scope_ids: list[str] | None = None,
    search: search_sql.Search | None = None,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, rows)`` of scopes, oldest first; ``limit=None`` returns every match."""
    conditions = [scopes.c.tenant_id == tenant_id]
    if resource_id is not None:
        conditions.append(scopes.c.resource_id == resource_id)
    if resource_ids is not None:
        conditions.append(scopes.c.resource_id.in_(resource_ids))
    if role_id is not None:
        conditions.append(
            scopes.c.id.in_(
                select(roles_scopes.c.scope_id).where(roles_scopes.c.role_id == role_id)
            )
        )
    if scope_ids is not None:
        conditions.append(scopes.c.id.in_(scope_ids))
    if search is not None:
        conditions.append(search_sql.condition(search, SCOPE_SEARCH_FIELDS, conn.dialect.name))
    total = (
        await conn.execute(select(func.count()).select_from(scopes).where(*conditions))
    ).scalar()
    query = select(scopes).where(*conditions).order_by(scopes.c.created_at, scopes.c.id)
    if limit is not None:
        query = query.offset(offset or 0).limit(limit)
    return int(total or 0), [dict(r._mapping) for r in await conn.execute(query)]


async def scope_named(conn: AsyncConnection, resource_id: str, name: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(scopes).where(scopes.c.resource_id == resource_id, scopes.c.name == name)
        )
    ).first()
    return dict(row._mapping) if row else None


async def find_roles(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    search: search_sql.Search | None = None,
    role_type: str | None = None,
    user_id: str | None = None,
    application_id: str | None = None,
    exclude_user_id: str | None = None,
    exclude_application_id: str | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, page)`` of roles by name; ``user_id`` / ``application_id`` keep the roles
    assigned to them, ``exclude_*`` the others."""
    conditions = [roles.c.tenant_id == tenant_id]
    if search is not None:
        conditions.append(search_sql.condition(search, ROLE_SEARCH_FIELDS, conn.dialect.name))
    if role_type is not None:
        conditions.append(roles.c.type == role_type)
    for relation, key, value, keep in (
        (users_roles, "user_id", user_id, True),
        (applications_roles, "application_id", application_id, True),
        (users_roles, "user_id", exclude_user_id, False),
        (applications_roles, "application_id", exclude_application_id, False),
    ):
        if value is None:
            continue
        assigned = select(relation.c.role_id).where(relation.c[key] == value)
        conditions.append(roles.c.id.in_(assigned) if keep else roles.c.id.not_in(assigned))
    total = (
        await conn.execute(select(func.count()).select_from(roles).where(*conditions))
    ).scalar()
    rows = await conn.execute(
        select(roles)
        .where(*conditions)
        .order_by(roles.c.name, roles.c.id)
        .offset(offset)
        .limit(limit)
    )
    return int(total or 0), [dict(r._mapping) for r in rows]


async def roles_by_ids(
    conn: AsyncConnection, tenant_id: str, ids: list[str]
) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = await conn.execute(
        select(roles).where(roles.c.tenant_id == tenant_id, roles.c.id.in_(ids))
    )
    return [dict(r._mapping) for r in rows]


_RELATIONS = {
    "users_roles": (users_roles, "user_id"),
    "applications_roles": (applications_roles, "application_id"),
}


async def assigned_role_ids(conn: AsyncConnection, table_name: str, holder_id: str) -> set[str]:
    """Role ids held by a user (``users_roles``) or an application (``applications_roles``)."""
    table, key = _RELATIONS[table_name]
    rows = await conn.execute(select(table.c.role_id).where(table.c[key] == holder_id))
    return {r.role_id for r in rows}


async def holders_of_role(
    conn: AsyncConnection, table_name: str, role_id: str, among: list[str]
) -> set[str]:
    """Which of ``among`` (user or application ids) already hold ``role_id``."""
    table, key = _RELATIONS[table_name]
    rows = await conn.execute(
        select(table.c[key]).where(table.c.role_id == role_id, table.c[key].in_(among))
    )
    return {r[0] for r in rows}


async def unassign_role(
    conn: AsyncConnection, table_name: str, holder_id: str, role_id: str
) -> bool:
    table, key = _RELATIONS[table_name]
    result = await conn.execute(
        delete(table).where(table.c[key] == holder_id, table.c.role_id == role_id)
    )
    return result.rowcount == 1


async def role_scope_ids(conn: AsyncConnection, role_id: str) -> set[str]:
    rows = await conn.execute(
        select(roles_scopes.c.scope_id).where(roles_scopes.c.role_id == role_id)
    )
    return {r.scope_id for r in rows}


async def unlink_scope(conn: AsyncConnection, role_id: str, scope_id: str) -> bool:
    result = await conn.execute(
        delete(roles_scopes).where(
            roles_scopes.c.role_id == role_id, roles_scopes.c.scope_id == scope_id
        )
    )
    return result.rowcount == 1


async def role_members(
    conn: AsyncConnection, table_name: str, role_ids: list[str], featured: int = 3
) -> dict[str, tuple[int, list[dict[str, Any]]]]:
    """Per role: how many users (or applications) hold it and the first ``featured`` of them
    (Logto's ``usersCount``/``featuredUsers``), in two queries for the whole page."""
    if not role_ids:
        return {}
    table, key = _RELATIONS[table_name]
    holders = users if table_name == "users_roles" else applications
    counts = {
        r.role_id: r.n
        for r in await conn.execute(
            select(table.c.role_id, func.count().label("n"))
            .where(table.c.role_id.in_(role_ids))
            .group_by(table.c.role_id)
        )
    }
    columns = (
        [holders.c.id, holders.c.name, holders.c.avatar]
        if table_name == "users_roles"
        else [holders.c.id, holders.c.name, holders.c.type]
    )
    rank = (
        func.row_number()
        .over(partition_by=table.c.role_id, order_by=(holders.c.created_at, holders.c.id))
        .label("rank")
    )
    ranked = (
        select(table.c.role_id, *columns, rank)
        .join(holders, holders.c.id == table.c[key])
        .where(table.c.role_id.in_(role_ids))
        .subquery()
    )
    picked: dict[str, list[dict[str, Any]]] = {}
    for row in await conn.execute(
        select(ranked).where(ranked.c.rank <= featured).order_by(ranked.c.role_id, ranked.c.rank)
    ):
        member = {c.name: row._mapping[c.name] for c in columns}
        picked.setdefault(row.role_id, []).append(member)
    return {rid: (int(counts.get(rid, 0)), picked.get(rid, [])) for rid in role_ids}


async def default_role_ids(conn: AsyncConnection, tenant_id: str) -> list[str]:
    """User roles every new user receives (``is_default``)."""
    rows = await conn.execute(
        select(roles.c.id).where(
            roles.c.tenant_id == tenant_id, roles.c.type == "User", roles.c.is_default
        )
    )
    return [r.id for r in rows]


async def longest_access_token_ttl(conn: AsyncConnection, tenant_id: str) -> int | None:
    """The longest access-token lifetime any resource sets (seconds), None if none does."""
    value = await conn.scalar(
        select(func.max(resources.c.access_token_ttl)).where(resources.c.tenant_id == tenant_id)
    )
    return int(value) if value is not None else None
