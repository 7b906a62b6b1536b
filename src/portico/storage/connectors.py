"""SQL for ``connectors`` (Logto's table): rows as dicts, config already sealed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import connectors


async def insert_connector(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(connectors).values(row))


async def get_connector(
    conn: AsyncConnection, tenant_id: str, connector_id: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(connectors).where(
                connectors.c.tenant_id == tenant_id, connectors.c.id == connector_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def list_connectors(conn: AsyncConnection, tenant_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(connectors)
        .where(connectors.c.tenant_id == tenant_id)
        .order_by(connectors.c.created_at, connectors.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def update_connector(
    conn: AsyncConnection, tenant_id: str, connector_id: str, values: dict[str, Any]
) -> None:
    await conn.execute(
        update(connectors)
        .where(connectors.c.tenant_id == tenant_id, connectors.c.id == connector_id)
        .values(values)
    )


async def delete_connectors(conn: AsyncConnection, tenant_id: str, ids: list[str]) -> int:
    if not ids:
        return 0
    result = await conn.execute(
        delete(connectors).where(connectors.c.tenant_id == tenant_id, connectors.c.id.in_(ids))
    )
    return int(result.rowcount or 0)
