"""SQL for enterprise SSO: the connectors (``sso_connectors``, config as stored, secrets
sealed), users' identities at their providers (``user_sso_identities``) and the keys SAML
connectors sign their requests with (``saml_sso_connector_signing_keys``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import (
    saml_sso_connector_signing_keys,
    sso_connectors,
    user_sso_identities,
)

connectors = sso_connectors
identities = user_sso_identities
keys = saml_sso_connector_signing_keys


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


# Signing keys (signed AuthnRequests) -----------------------------------------------------------
async def insert_signing_key(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(keys).values(row))


async def signing_keys(
    conn: AsyncConnection, tenant_id: str, connector_id: str
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(keys)
        .where(keys.c.tenant_id == tenant_id, keys.c.sso_connector_id == connector_id)
        .order_by(keys.c.created_at, keys.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def signing_key(
    conn: AsyncConnection, tenant_id: str, connector_id: str, key_id: str, *, active: bool = False
) -> dict[str, Any] | None:
    """One of the connector's keys (``key_id``), or with ``active`` its active key."""
    query = select(keys).where(
        keys.c.tenant_id == tenant_id, keys.c.sso_connector_id == connector_id
    )
    query = query.where(keys.c.active.is_(True)) if active else query.where(keys.c.id == key_id)
    row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None


async def set_signing_key_active(
    conn: AsyncConnection, tenant_id: str, connector_id: str, key_id: str, active: bool
) -> None:
    """``active``: this key becomes the one active key (the others deactivated first, in the
    same transaction, so the unique partial index never sees two)."""
    mine = (keys.c.tenant_id == tenant_id) & (keys.c.sso_connector_id == connector_id)
    if active:
        await conn.execute(update(keys).where(mine, keys.c.active.is_(True)).values(active=False))
    await conn.execute(update(keys).where(mine, keys.c.id == key_id).values(active=active))


async def delete_inactive_signing_key(
    conn: AsyncConnection, tenant_id: str, connector_id: str, key_id: str
) -> bool:
    """Deleted unless active (checked by the statement itself: no race with an activation)."""
    result = await conn.execute(
        delete(keys).where(
            keys.c.tenant_id == tenant_id,
            keys.c.sso_connector_id == connector_id,
            keys.c.id == key_id,
            keys.c.active.is_(False),
        )
    )
    return result.rowcount == 1
