"""SQL for ``users``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import users


async def insert_user(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(users).values(row))


async def get_user(conn: AsyncConnection, tenant_id: str, user_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
        )
    ).first()
    return dict(row._mapping) if row else None


async def find_by_identifier(
    conn: AsyncConnection, tenant_id: str, identifier: str
) -> dict[str, Any] | None:
    """Username (exact), e-mail (stored lower-cased) or phone; each is unique per tenant."""
    lowered = identifier.lower()
    row = (
        await conn.execute(
            select(users)
            .where(
                users.c.tenant_id == tenant_id,
                or_(
                    users.c.username == identifier,
                    users.c.primary_email == lowered,
                    users.c.primary_phone == identifier,
                ),
            )
            .limit(1)
        )
    ).first()
    return dict(row._mapping) if row else None


async def touch_sign_in(conn: AsyncConnection, user_id: str, at: int) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(last_sign_in_at=at))


async def count_users(conn: AsyncConnection, tenant_id: str) -> int:
    result = await conn.execute(
        select(func.count()).select_from(users).where(users.c.tenant_id == tenant_id)
    )
    return int(result.scalar_one())


async def replace_password(
    conn: AsyncConnection,
    user_id: str,
    old_encrypted: str,
    encrypted: str,
    method: str,
    at: int,
) -> bool:
    """Swap the stored hash only if it is still ``old_encrypted``; True when it was swapped."""
    result = await conn.execute(
        update(users)
        .where(users.c.id == user_id, users.c.password_encrypted == old_encrypted)
        .values(password_encrypted=encrypted, password_encryption_method=method, updated_at=at)
    )
    return result.rowcount == 1
