"""SQL for ``applications`` and ``application_secrets``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import application_secrets, applications


async def insert_application(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(applications).values(row))


async def insert_secret(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(application_secrets).values(row))


async def get_application(
    conn: AsyncConnection, tenant_id: str, app_id: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(applications).where(
                applications.c.tenant_id == tenant_id, applications.c.id == app_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def list_secrets(conn: AsyncConnection, app_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(application_secrets).where(application_secrets.c.application_id == app_id)
    )
    return [dict(r._mapping) for r in rows]


async def list_applications(
    conn: AsyncConnection, tenant_id: str, offset: int, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(applications)
        .where(applications.c.tenant_id == tenant_id)
        .order_by(applications.c.created_at.desc(), applications.c.id)
        .offset(offset)
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def count_applications(conn: AsyncConnection, tenant_id: str) -> int:
    from sqlalchemy import func

    result = await conn.execute(
        select(func.count()).select_from(applications).where(applications.c.tenant_id == tenant_id)
    )
    return int(result.scalar_one())


async def all_client_metadata(conn: AsyncConnection, tenant_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(applications.c.oidc_client_metadata, applications.c.custom_client_metadata).where(
            applications.c.tenant_id == tenant_id
        )
    )
    return [dict(r._mapping) for r in rows]
