"""SQL for ``saml_application_configs`` and ``saml_application_secrets`` (SAML applications,
Portico as the identity provider)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import saml_application_configs as configs
from portico.storage.tables import saml_application_secrets as secrets


async def insert_config(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(configs).values(row))


async def get_config(conn: AsyncConnection, tenant_id: str, app_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(configs).where(
                configs.c.tenant_id == tenant_id, configs.c.application_id == app_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def update_config(
    conn: AsyncConnection, tenant_id: str, app_id: str, values: dict[str, Any]
) -> None:
    await conn.execute(
        update(configs)
        .where(configs.c.tenant_id == tenant_id, configs.c.application_id == app_id)
        .values(values)
    )


async def insert_secret(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(secrets).values(row))


async def list_secrets(conn: AsyncConnection, tenant_id: str, app_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(secrets)
        .where(secrets.c.tenant_id == tenant_id, secrets.c.application_id == app_id)
        .order_by(secrets.c.created_at, secrets.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def get_secret(
    conn: AsyncConnection, tenant_id: str, app_id: str, secret_id: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(secrets).where(
                secrets.c.tenant_id == tenant_id,
                secrets.c.application_id == app_id,
                secrets.c.id == secret_id,
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def active_secret(
    conn: AsyncConnection, tenant_id: str, app_id: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(secrets).where(
                secrets.c.tenant_id == tenant_id,
                secrets.c.application_id == app_id,
                secrets.c.active.is_(True),
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def set_active(
    conn: AsyncConnection, tenant_id: str, app_id: str, secret_id: str, active: bool
) -> None:
    """``active``: this secret becomes the one active secret (the others are deactivated
    first, in the same transaction, so the unique partial index never sees two)."""
    mine = (secrets.c.tenant_id == tenant_id) & (secrets.c.application_id == app_id)
    if active:
        await conn.execute(
            update(secrets).where(mine, secrets.c.active.is_(True)).values(active=False)
        )
    await conn.execute(update(secrets).where(mine, secrets.c.id == secret_id).values(active=active))


async def delete_secret(conn: AsyncConnection, tenant_id: str, app_id: str, secret_id: str) -> bool:
    result = await conn.execute(
        delete(secrets).where(
            secrets.c.tenant_id == tenant_id,
            secrets.c.application_id == app_id,
            secrets.c.id == secret_id,
        )
    )
    return result.rowcount == 1
