"""SQL for organizations, their members, the organization role/scope template, and the
organizations users granted to third-party applications. Relation rows are inserted with
``ON CONFLICT DO NOTHING``: adding what is already there (two requests at once) is a no-op."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage import relations
from portico.storage import search as search_sql
from portico.storage.database import insert_ignore
from portico.storage.tables import (
    application_user_consent_organizations,
    applications,
    organization_application_relations,
    organization_role_application_relations,
    organization_role_resource_scope_relations,
    organization_role_scope_relations,
    organization_role_user_relations,
    organization_roles,
    organization_scopes,
    organization_user_relations,
    organizations,
    resources,
    scopes,
)

_TABLES: dict[str, Table] = {
    "organizations": organizations,
    "organization_roles": organization_roles,
    "organization_scopes": organization_scopes,
}
_SEARCH_FIELDS = {
    name: {"id": table.c.id, "name": table.c.name, "description": table.c.description}
    for name, table in _TABLES.items()
}
members = organization_user_relations
member_roles = organization_role_user_relations
role_scopes = organization_role_scope_relations
role_resource_scopes = organization_role_resource_scope_relations
app_members = organization_application_relations
app_roles = organization_role_application_relations
consented = application_user_consent_organizations


# Entities ----------------------------------------------------------------------------------
async def get(
    conn: AsyncConnection, kind: str, tenant_id: str, row_id: str
) -> dict[str, Any] | None:
    table = _TABLES[kind]
    row = (
        await conn.execute(
            select(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id)
        )
    ).first()
    return dict(row._mapping) if row else None


async def get_by_name(
    conn: AsyncConnection, kind: str, tenant_id: str, name: str
) -> dict[str, Any] | None:
    table = _TABLES[kind]
    row = (
        await conn.execute(
            select(table).where(table.c.tenant_id == tenant_id, table.c.name == name)
        )
    ).first()
    return dict(row._mapping) if row else None


async def insert_row(conn: AsyncConnection, kind: str, row: dict[str, Any]) -> None:
    await conn.execute(insert(_TABLES[kind]).values(row))


async def update_row(
    conn: AsyncConnection, kind: str, tenant_id: str, row_id: str, values: dict[str, Any]
) -> None:
    table = _TABLES[kind]
    await conn.execute(
        update(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id).values(values)
    )


async def delete_row(conn: AsyncConnection, kind: str, tenant_id: str, row_id: str) -> bool:
    table = _TABLES[kind]
    result = await conn.execute(
        delete(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id)
    )
    return result.rowcount == 1


async def existing_ids(
    conn: AsyncConnection, kind: str, tenant_id: str, ids: list[str]
) -> set[str]:
    table = _TABLES[kind]
    rows = await conn.execute(
        select(table.c.id).where(table.c.tenant_id == tenant_id, table.c.id.in_(ids))
    )
    return {r.id for r in rows}


async def find(
    conn: AsyncConnection,
    kind: str,
    tenant_id: str,
    *,
    search: search_sql.Search | None = None,
    user_id: str | None = None,
    role_id: str | None = None,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, rows)``: organizations newest first, roles and scopes by name.
    ``user_id`` keeps a user's organizations, ``role_id`` the scopes of an organization role;
    ``limit=None`` returns every match."""
    table = _TABLES[kind]
    conditions = [table.c.tenant_id == tenant_id]
    if search is not None:
        conditions.append(search_sql.condition(search, _SEARCH_FIELDS[kind], conn.dialect.name))
    if user_id is not None:
        conditions.append(
            table.c.id.in_(select(members.c.organization_id).where(members.c.user_id == user_id))
        )
    if role_id is not None:
        conditions.append(
            table.c.id.in_(
                select(role_scopes.c.organization_scope_id).where(
                    role_scopes.c.organization_role_id == role_id
                )
            )
        )
    total = (
        await conn.execute(select(func.count()).select_from(table).where(*conditions))
    ).scalar()
    order = (
        (table.c.created_at.desc(), table.c.id)
        if kind == "organizations"
        else (table.c.name, table.c.id)
    )
    query = select(table).where(*conditions).order_by(*order)
    if limit is not None:
        query = query.offset(offset or 0).limit(limit)
    return int(total or 0), [dict(r._mapping) for r in await conn.execute(query)]


# Members and their roles --------------------------------------------------------------------
@dataclass(frozen=True)
class Holders:
    """Who joins organizations and holds organization roles in them: users, or
    machine-to-machine applications. The same SQL serves both, over their own tables."""

    members: Table  # organization_id, <key>
    roles: Table  # organization_id, organization_role_id, <key> (references the membership)
    key: str  # "user_id" or "application_id"

    def member(self, table: Table) -> Any:
        return table.c[self.key]


USERS = Holders(organization_user_relations, organization_role_user_relations, "user_id")
APPLICATIONS = Holders(
    organization_application_relations, organization_role_application_relations, "application_id"
)


async def holder_ids(
    conn: AsyncConnection, holders: Holders, organization_id: str, among: list[str] | None = None
) -> set[str]:
    table = holders.members
    query = select(holders.member(table)).where(table.c.organization_id == organization_id)
    if among is not None:
        query = query.where(holders.member(table).in_(among))
    return {r[0] for r in await conn.execute(query)}


async def add_holders(
    conn: AsyncConnection, holders: Holders, tenant_id: str, organization_id: str, ids: list[str]
) -> None:
    rows = [
        {"tenant_id": tenant_id, "organization_id": organization_id, holders.key: i} for i in ids
    ]
    if rows:
        await insert_ignore(conn, holders.members, rows)


async def remove_holders(
    conn: AsyncConnection, holders: Holders, organization_id: str, ids: list[str]
) -> int:
    """Roles held in the organization go with the membership (and, for users, the consents
    naming it)."""
    if not ids:
        return 0
    dependent = [holders.roles, consented] if holders is USERS else [holders.roles]
    for table in dependent:
        await conn.execute(
            delete(table).where(
                table.c.organization_id == organization_id, holders.member(table).in_(ids)
            )
        )
    table = holders.members
    result = await conn.execute(
        delete(table).where(
            table.c.organization_id == organization_id, holders.member(table).in_(ids)
        )
    )
    return int(result.rowcount)


async def held_role_ids(
    conn: AsyncConnection, holders: Holders, organization_id: str, holder_id: str
) -> set[str]:
    table = holders.roles
    rows = await conn.execute(
        select(table.c.organization_role_id).where(
            table.c.organization_id == organization_id, holders.member(table) == holder_id
        )
    )
    return {r.organization_role_id for r in rows}


async def held_roles_of(
    conn: AsyncConnection, holders: Holders, organization_id: str, ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """holder id -> its organization roles (``id``, ``name``) in this organization, by name."""
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    table = holders.roles
    rows = await conn.execute(
        select(holders.member(table), organization_roles.c.id, organization_roles.c.name)
        .join(organization_roles, organization_roles.c.id == table.c.organization_role_id)
        .where(table.c.organization_id == organization_id, holders.member(table).in_(ids))
        .order_by(organization_roles.c.name)
    )
    for holder, role_id, name in rows:
        out[holder].append({"id": role_id, "name": name})
    return out


async def assign_held_roles(
    conn: AsyncConnection,
    holders: Holders,
    tenant_id: str,
    organization_id: str,
    holder_id: str,
    role_ids: list[str],
) -> None:
    rows = [
        {
            "tenant_id": tenant_id,
            "organization_id": organization_id,
            "organization_role_id": r,
            holders.key: holder_id,
        }
        for r in role_ids
    ]
    if rows:
        await insert_ignore(conn, holders.roles, rows)


async def unassign_held_roles(
    conn: AsyncConnection,
    holders: Holders,
    organization_id: str,
    holder_id: str,
    role_ids: list[str] | None = None,
) -> int:
    """``role_ids=None``: every role held in the organization."""
    table = holders.roles
    statement = delete(table).where(
        table.c.organization_id == organization_id, holders.member(table) == holder_id
    )
    if role_ids is not None:
        statement = statement.where(table.c.organization_role_id.in_(role_ids))
    return int((await conn.execute(statement)).rowcount)


# Users' shorthands (the API and console predate applications as members).
async def member_ids(
    conn: AsyncConnection, organization_id: str, among: list[str] | None = None
) -> set[str]:
    return await holder_ids(conn, USERS, organization_id, among)


async def add_members(
    conn: AsyncConnection, tenant_id: str, organization_id: str, user_ids: list[str]
) -> None:
    await add_holders(conn, USERS, tenant_id, organization_id, user_ids)


async def remove_members(conn: AsyncConnection, organization_id: str, user_ids: list[str]) -> int:
    return await remove_holders(conn, USERS, organization_id, user_ids)


async def is_member(conn: AsyncConnection, organization_id: str, user_id: str) -> bool:
    return bool(await member_ids(conn, organization_id, [user_id]))


async def member_role_ids(conn: AsyncConnection, organization_id: str, user_id: str) -> set[str]:
    return await held_role_ids(conn, USERS, organization_id, user_id)


async def member_roles_of(
    conn: AsyncConnection, organization_id: str, user_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    return await held_roles_of(conn, USERS, organization_id, user_ids)


async def assign_member_roles(
    conn: AsyncConnection, tenant_id: str, organization_id: str, user_id: str, role_ids: list[str]
) -> None:
    await assign_held_roles(conn, USERS, tenant_id, organization_id, user_id, role_ids)


async def unassign_member_roles(
    conn: AsyncConnection, organization_id: str, user_id: str, role_ids: list[str] | None = None
) -> int:
    return await unassign_held_roles(conn, USERS, organization_id, user_id, role_ids)


# Scopes of roles ---------------------------------------------------------------------------
async def role_scope_ids(conn: AsyncConnection, role_id: str) -> set[str]:
    rows = await conn.execute(
        select(role_scopes.c.organization_scope_id).where(
            role_scopes.c.organization_role_id == role_id
        )
    )
    return {r.organization_scope_id for r in rows}


async def link_role_scopes(
    conn: AsyncConnection, tenant_id: str, role_id: str, scope_ids: list[str]
) -> None:
    fixed = {"tenant_id": tenant_id, "organization_role_id": role_id}
    await relations.link(conn, role_scopes, fixed, "organization_scope_id", scope_ids)


async def unlink_role_scopes(
    conn: AsyncConnection, role_id: str, scope_ids: list[str] | None = None
) -> int:
    fixed = {"organization_role_id": role_id}
    return await relations.unlink(conn, role_scopes, fixed, "organization_scope_id", scope_ids)


# API-resource scopes of roles --------------------------------------------------------------
async def role_resource_scope_ids(conn: AsyncConnection, role_id: str) -> set[str]:
    rows = await conn.execute(
        select(role_resource_scopes.c.scope_id).where(
            role_resource_scopes.c.organization_role_id == role_id
        )
    )
    return {r.scope_id for r in rows}


async def existing_resource_scope_ids(
    conn: AsyncConnection, tenant_id: str, ids: list[str]
) -> set[str]:
    rows = await conn.execute(
        select(scopes.c.id).where(scopes.c.tenant_id == tenant_id, scopes.c.id.in_(ids))
    )
    return {r.id for r in rows}


async def link_role_resource_scopes(
    conn: AsyncConnection, tenant_id: str, role_id: str, scope_ids: list[str]
) -> None:
    fixed = {"tenant_id": tenant_id, "organization_role_id": role_id}
    await relations.link(conn, role_resource_scopes, fixed, "scope_id", scope_ids)


async def unlink_role_resource_scopes(
    conn: AsyncConnection, role_id: str, scope_ids: list[str] | None = None
) -> int:
    fixed = {"organization_role_id": role_id}
    return await relations.unlink(conn, role_resource_scopes, fixed, "scope_id", scope_ids)


async def find_role_resource_scopes(
    conn: AsyncConnection,
    role_id: str,
    *,
    search: search_sql.Search | None = None,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, scope rows)`` an organization role grants, by name; ``limit=None``: all."""
    conditions = [
        scopes.c.id.in_(
            select(role_resource_scopes.c.scope_id).where(
                role_resource_scopes.c.organization_role_id == role_id
            )
        )
    ]
    if search is not None:
        fields = {"id": scopes.c.id, "name": scopes.c.name, "description": scopes.c.description}
        conditions.append(search_sql.condition(search, fields, conn.dialect.name))
    total = (
        await conn.execute(select(func.count()).select_from(scopes).where(*conditions))
    ).scalar()
    query = select(scopes).where(*conditions).order_by(scopes.c.name, scopes.c.id)
    if limit is not None:
        query = query.offset(offset or 0).limit(limit)
    return int(total or 0), [dict(r._mapping) for r in await conn.execute(query)]


async def resource_scopes_of_roles(
    conn: AsyncConnection, role_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """role id -> the API-resource scopes it grants, each ``{id, name, resource: {id,
    name}}`` (Logto's ResourceScopeEntity), by resource and scope name."""
    out: dict[str, list[dict[str, Any]]] = {r: [] for r in role_ids}
    if not role_ids:
        return out
    rows = await conn.execute(
        select(
            role_resource_scopes.c.organization_role_id,
            scopes.c.id,
            scopes.c.name,
            resources.c.id.label("resource_id"),
            resources.c.name.label("resource_name"),
        )
        .join(scopes, scopes.c.id == role_resource_scopes.c.scope_id)
        .join(resources, resources.c.id == scopes.c.resource_id)
        .where(role_resource_scopes.c.organization_role_id.in_(role_ids))
        .order_by(resources.c.name, scopes.c.name)
    )
    for row in rows:
        out[row.organization_role_id].append(
            {
                "id": row.id,
                "name": row.name,
                "resource": {"id": row.resource_id, "name": row.resource_name},
            }
        )
    return out


# Applications as members -------------------------------------------------------------------
async def find_app_members(
    conn: AsyncConnection,
    tenant_id: str,
    organization_id: str,
    *,
    search: search_sql.Search | None = None,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, application rows)`` of the organization's application members, by name."""
    conditions = [
        applications.c.tenant_id == tenant_id,
        applications.c.id.in_(
            select(app_members.c.application_id).where(
                app_members.c.organization_id == organization_id
            )
        ),
    ]
    if search is not None:
        fields = {
            "id": applications.c.id,
            "name": applications.c.name,
            "description": applications.c.description,
        }
        conditions.append(search_sql.condition(search, fields, conn.dialect.name))
    total = (
        await conn.execute(select(func.count()).select_from(applications).where(*conditions))
    ).scalar()
    query = select(applications).where(*conditions).order_by(applications.c.name, applications.c.id)
    if limit is not None:
        query = query.offset(offset or 0).limit(limit)
    return int(total or 0), [dict(r._mapping) for r in await conn.execute(query)]


async def app_member_ids(
    conn: AsyncConnection, organization_id: str, among: list[str] | None = None
) -> set[str]:
    return await holder_ids(conn, APPLICATIONS, organization_id, among)


async def app_scope_names(conn: AsyncConnection, organization_id: str, app_id: str) -> set[str]:
    """Organization scopes the application's roles in one organization grant."""
    rows = await conn.execute(
        select(organization_scopes.c.name)
        .join(role_scopes, role_scopes.c.organization_scope_id == organization_scopes.c.id)
        .join(app_roles, app_roles.c.organization_role_id == role_scopes.c.organization_role_id)
        .where(app_roles.c.organization_id == organization_id, app_roles.c.application_id == app_id)
    )
    return {r.name for r in rows}


async def app_resource_scope_names(
    conn: AsyncConnection, organization_id: str, app_id: str, resource_id: str
) -> set[str]:
    """Scopes of ``resource_id`` the application's roles in one organization grant."""
    rows = await conn.execute(
        select(scopes.c.name)
        .join(role_resource_scopes, role_resource_scopes.c.scope_id == scopes.c.id)
        .join(
            app_roles,
            app_roles.c.organization_role_id == role_resource_scopes.c.organization_role_id,
        )
        .where(
            app_roles.c.organization_id == organization_id,
            app_roles.c.application_id == app_id,
            scopes.c.resource_id == resource_id,
        )
    )
    return {r.name for r in rows}


# What tokens carry -------------------------------------------------------------------------
async def user_organizations(
    conn: AsyncConnection, user_id: str, only: list[str] | None = None
) -> list[dict[str, Any]]:
    """The user's organizations (``id``, ``name``, ``description``) by name; ``only``
    restricts them to those ids."""
    query = (
        select(organizations.c.id, organizations.c.name, organizations.c.description)
        .join(members, members.c.organization_id == organizations.c.id)
        .where(members.c.user_id == user_id)
        .order_by(organizations.c.name, organizations.c.id)
    )
    if only is not None:
        query = query.where(organizations.c.id.in_(only))
    return [dict(r._mapping) for r in await conn.execute(query)]


async def user_role_pairs(conn: AsyncConnection, user_id: str) -> list[tuple[str, str]]:
    """``(organization id, role name)`` for every organization role the user holds."""
    rows = await conn.execute(
        select(member_roles.c.organization_id, organization_roles.c.name)
        .join(organization_roles, organization_roles.c.id == member_roles.c.organization_role_id)
        .where(member_roles.c.user_id == user_id)
        .order_by(member_roles.c.organization_id, organization_roles.c.name)
    )
    return [(r.organization_id, r.name) for r in rows]


async def user_scope_names(conn: AsyncConnection, organization_id: str, user_id: str) -> set[str]:
    """Organization scopes the user's roles in one organization grant."""
    rows = await conn.execute(
        select(organization_scopes.c.name)
        .join(role_scopes, role_scopes.c.organization_scope_id == organization_scopes.c.id)
        .join(
            member_roles, member_roles.c.organization_role_id == role_scopes.c.organization_role_id
        )
        .where(member_roles.c.organization_id == organization_id, member_roles.c.user_id == user_id)
    )
    return {r.name for r in rows}


# Organizations granted to third-party applications -----------------------------------------
async def consented_ids(conn: AsyncConnection, application_id: str, user_id: str) -> list[str]:
    rows = await conn.execute(
        select(consented.c.organization_id)
        .where(consented.c.application_id == application_id, consented.c.user_id == user_id)
        .order_by(consented.c.organization_id)
    )
    return [r.organization_id for r in rows]


async def add_consented(
    conn: AsyncConnection, tenant_id: str, application_id: str, user_id: str, org_ids: list[str]
) -> None:
    rows = [
        {
            "tenant_id": tenant_id,
            "application_id": application_id,
            "user_id": user_id,
            "organization_id": o,
        }
        for o in org_ids
    ]
    if rows:
        await insert_ignore(conn, consented, rows)


async def remove_consented(
    conn: AsyncConnection, application_id: str, user_id: str, org_ids: list[str] | None = None
) -> int:
    """``org_ids=None``: every organization granted to the application."""
    statement = delete(consented).where(
        consented.c.application_id == application_id, consented.c.user_id == user_id
    )
    if org_ids is not None:
        statement = statement.where(consented.c.organization_id.in_(org_ids))
    return int((await conn.execute(statement)).rowcount)
