"""SQL for ``applications`` and ``application_secrets``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage import search as search_sql
from portico.storage.tables import application_secrets, applications, applications_roles

SEARCH_FIELDS = {
    "id": applications.c.id,
    "name": applications.c.name,
    "description": applications.c.description,
}


async def insert_application(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(applications).values(row))


async def insert_secret(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(application_secrets).values(row))


async def get_application(
    conn: AsyncConnection, tenant_id: str, app_id: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    """One application; ``for_update`` locks the row (PostgreSQL) for a read-modify-write."""
    query = select(applications).where(
        applications.c.tenant_id == tenant_id, applications.c.id == app_id
    )
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None


async def names_of(
    conn: AsyncConnection, tenant_id: str, app_ids: list[str]
) -> dict[str, tuple[str, bool]]:
    """Each existing application's name and whether it is third-party, by id."""
    if not app_ids:
        return {}
    rows = await conn.execute(
        select(applications.c.id, applications.c.name, applications.c.is_third_party).where(
            applications.c.tenant_id == tenant_id, applications.c.id.in_(app_ids)
        )
    )
    return {row.id: (row.name, bool(row.is_third_party)) for row in rows}


async def applications_of_type(
    conn: AsyncConnection, tenant_id: str, app_type: str
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(applications).where(
            applications.c.tenant_id == tenant_id, applications.c.type == app_type
        )
    )
    return [dict(r._mapping) for r in rows]


async def update_application(
    conn: AsyncConnection, tenant_id: str, app_id: str, values: dict[str, Any]
) -> bool:
    result = await conn.execute(
        update(applications)
        .where(applications.c.tenant_id == tenant_id, applications.c.id == app_id)
        .values(values)
    )
    return result.rowcount == 1


async def delete_application(conn: AsyncConnection, tenant_id: str, app_id: str) -> bool:
    result = await conn.execute(
        delete(applications).where(
            applications.c.tenant_id == tenant_id, applications.c.id == app_id
        )
    )
    return result.rowcount == 1


async def list_secrets(conn: AsyncConnection, app_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(application_secrets)
        .where(application_secrets.c.application_id == app_id)
        .order_by(application_secrets.c.created_at, application_secrets.c.name)
    )
    return [dict(r._mapping) for r in rows]


async def delete_secret(conn: AsyncConnection, app_id: str, name: str) -> bool:
    result = await conn.execute(
        delete(application_secrets).where(
            application_secrets.c.application_id == app_id, application_secrets.c.name == name
        )
    )
    return result.rowcount == 1


async def rename_secret(conn: AsyncConnection, app_id: str, name: str, new_name: str) -> bool:
    result = await conn.execute(
        update(application_secrets)
        .where(application_secrets.c.application_id == app_id, application_secrets.c.name == name)
        .values(name=new_name)
    )
    return result.rowcount == 1


async def find_applications(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    search: search_sql.Search | None = None,
    types: list[str] | None = None,
    is_third_party: bool | None = None,
    role_id: str | None = None,
    exclude_role_id: str | None = None,
    exclude_ids: list[str] | None = None,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, rows)`` newest first; ``limit=None`` returns every match."""
    conditions = [applications.c.tenant_id == tenant_id]
    if search is not None:
        conditions.append(search_sql.condition(search, SEARCH_FIELDS, conn.dialect.name))
    if types:
        conditions.append(applications.c.type.in_(types))
    if is_third_party is not None:
        conditions.append(applications.c.is_third_party == is_third_party)
    if role_id:
        conditions.append(applications.c.id.in_(_with_role(role_id)))
    if exclude_role_id:
        conditions.append(applications.c.id.not_in(_with_role(exclude_role_id)))
    if exclude_ids:
        conditions.append(applications.c.id.not_in(exclude_ids))
    total = (
        await conn.execute(select(func.count()).select_from(applications).where(*conditions))
    ).scalar_one()
    query = (
        select(applications)
        .where(*conditions)
        .order_by(applications.c.created_at.desc(), applications.c.id)
    )
    if limit is not None:
        query = query.offset(offset or 0).limit(limit)
    rows = await conn.execute(query)
    return int(total), [dict(r._mapping) for r in rows]


def _with_role(role_id: str):  # type: ignore[no-untyped-def]
    return select(applications_roles.c.application_id).where(
        applications_roles.c.role_id == role_id
    )


async def all_client_metadata(conn: AsyncConnection, tenant_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(applications.c.oidc_client_metadata, applications.c.custom_client_metadata).where(
            applications.c.tenant_id == tenant_id
        )
    )
    return [dict(r._mapping) for r in rows]
