"""SQL for ``personal_access_tokens``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.storage.tables import personal_access_tokens as t

COLUMNS = (t.c.tenant_id, t.c.user_id, t.c.name, t.c.created_at, t.c.expires_at)


async def list_for(conn: AsyncConnection, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(*COLUMNS)
        .where(t.c.tenant_id == tenant_id, t.c.user_id == user_id)
        .order_by(t.c.created_at, t.c.name)
    )
    return [dict(r._mapping) for r in rows]


async def insert_token(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """False when the user already has a token of this name."""
    try:
        async with conn.begin_nested():
            await conn.execute(insert(t).values(row))
    except IntegrityError:
        return False
    return True


async def rename(
    conn: AsyncConnection, tenant_id: str, user_id: str, name: str, new_name: str
) -> bool | None:
    """True renamed, False no such token, None the new name is taken."""
    try:
        async with conn.begin_nested():
            result = await conn.execute(
                update(t)
                .where(t.c.tenant_id == tenant_id, t.c.user_id == user_id, t.c.name == name)
                .values(name=new_name)
            )
    except IntegrityError:
        return None
    return result.rowcount == 1


async def delete_token(conn: AsyncConnection, tenant_id: str, user_id: str, name: str) -> bool:
    result = await conn.execute(
        delete(t).where(t.c.tenant_id == tenant_id, t.c.user_id == user_id, t.c.name == name)
    )
    return result.rowcount == 1


async def owner(engine: AsyncEngine, tenant_id: str, value_digest: str, now: int) -> str | None:
    """The user of an unexpired token with this digest."""
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                select(t.c.user_id).where(
                    t.c.tenant_id == tenant_id,
                    t.c.value_digest == value_digest,
                    or_(t.c.expires_at.is_(None), t.c.expires_at > now),
                )
            )
        ).scalar_one_or_none()
    return str(found) if found is not None else None
