"""``logto_configs``: per-tenant key/value settings (signing keys, cookie keys, ...)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.database import insert_ignore
from portico.storage.tables import logto_configs


async def get(
    conn: AsyncConnection, tenant_id: str, key: str, *, for_update: bool = False
) -> Any | None:
    """The value; ``for_update`` locks the row (PostgreSQL) for a read-modify-write."""
    query = select(logto_configs.c.value).where(
        logto_configs.c.tenant_id == tenant_id, logto_configs.c.key == key
    )
    row = await conn.execute(query.with_for_update() if for_update else query)
    return row.scalar_one_or_none()


async def add_if_absent(conn: AsyncConnection, tenant_id: str, key: str, value: Any) -> Any:
    """Store ``value`` unless another process got there first; return what is stored."""
    await insert_ignore(conn, logto_configs, [{"tenant_id": tenant_id, "key": key, "value": value}])
    return await get(conn, tenant_id, key)


async def put(conn: AsyncConnection, tenant_id: str, key: str, value: Any) -> None:
    result = await conn.execute(
        update(logto_configs)
        .where(logto_configs.c.tenant_id == tenant_id, logto_configs.c.key == key)
        .values(value=value)
    )
    if result.rowcount == 0:
        await insert_ignore(
            conn, logto_configs, [{"tenant_id": tenant_id, "key": key, "value": value}]
        )
