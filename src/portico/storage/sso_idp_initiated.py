"""SQL for IdP-initiated SAML sign-in: one ``sso_connector_idp_initiated_auth_configs`` row
per connector (Logto's table)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import sso_connector_idp_initiated_auth_configs as configs


async def get(conn: AsyncConnection, tenant_id: str, connector_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(configs).where(
                configs.c.tenant_id == tenant_id, configs.c.connector_id == connector_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def replace(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """Logto's PUT is an upsert: the connector's config, whatever it was before."""
    await delete_for(conn, row["tenant_id"], row["connector_id"])
    await conn.execute(insert(configs).values(**row))


async def delete_for(conn: AsyncConnection, tenant_id: str, connector_id: str) -> int:
    result = await conn.execute(
        delete(configs).where(
            configs.c.tenant_id == tenant_id, configs.c.connector_id == connector_id
        )
    )
    return int(result.rowcount or 0)
