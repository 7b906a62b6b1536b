"""SQL for enterprise SSO: the connectors (``sso_connectors``, config as stored, secrets
sealed) and users' identities at their providers (``user_sso_identities``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import sso_connectors, user_sso_identities

connectors = sso_connectors
identities = user_sso_identities


# Connectors ---------------------------------------------------------------------------------
async def page(
    conn: AsyncConnection, tenant_id: str, *, offset: int | None = None, limit: int | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, rows)``, newest first (Logto's order); ``limit=None``: every row."""
    where = connectors.c.tenant_id == tenant_id
    total = (await conn.execute(select(func.count()).select_from(connectors).where(where))).scalar()
    query = (
        select(connectors).where(where).order_by(connectors.c.created_at.desc(), connectors.c.id)
    )
    if limit is not None:
        query = query.offset(offset or 0).limit(limit)
    return int(total or 0), [dict(r._mapping) for r in await conn.execute(query)]


async def get(conn: AsyncConnection, tenant_id: str, connector_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(connectors).where(
                connectors.c.tenant_id == tenant_id, connectors.c.id == connector_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def by_name(conn: AsyncConnection, tenant_id: str, name: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(connectors).where(
                connectors.c.tenant_id == tenant_id, connectors.c.connector_name == name
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def insert_connector(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(connectors).values(**row))


async def update_connector(
    conn: AsyncConnection, tenant_id: str, connector_id: str, values: dict[str, Any]
) -> None:
    if values:
        await conn.execute(
            update(connectors)
            .where(connectors.c.tenant_id == tenant_id, connectors.c.id == connector_id)
            .values(**values)
        )


async def delete_connector(conn: AsyncConnection, tenant_id: str, connector_id: str) -> int:
    result = await conn.execute(
        delete(connectors).where(
            connectors.c.tenant_id == tenant_id, connectors.c.id == connector_id
        )
    )
    return int(result.rowcount)


# Identities ---------------------------------------------------------------------------------
async def identity(
    conn: AsyncConnection, tenant_id: str, issuer: str, identity_id: str
) -> dict[str, Any] | None:
    """By the unique key ``(tenant_id, issuer, identity_id)``."""
    row = (
        await conn.execute(
            select(identities).where(
                identities.c.tenant_id == tenant_id,
                identities.c.issuer == issuer,
                identities.c.identity_id == identity_id,
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def insert_identity(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """A second identity with the same issuer and id raises the unique key's IntegrityError."""
    await conn.execute(insert(identities).values(**row))


async def update_identity(
    conn: AsyncConnection, tenant_id: str, identity_row_id: str, values: dict[str, Any]
) -> None:
    await conn.execute(
        update(identities)
        .where(identities.c.tenant_id == tenant_id, identities.c.id == identity_row_id)
        .values(**values)
    )


async def user_identities(
    conn: AsyncConnection, tenant_id: str, user_id: str
) -> list[dict[str, Any]]:
    query = (
        select(identities)
        .where(identities.c.tenant_id == tenant_id, identities.c.user_id == user_id)
        .order_by(identities.c.created_at, identities.c.id)
    )
    return [dict(r._mapping) for r in await conn.execute(query)]
