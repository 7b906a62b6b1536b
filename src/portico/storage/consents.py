"""SQL for remembered consent: the scopes and resources a user allowed one application."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.database import insert_ignore
from portico.storage.tables import application_user_consents as consents


async def get(conn: AsyncConnection, application_id: str, user_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(consents).where(
                consents.c.application_id == application_id, consents.c.user_id == user_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def put(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """Insert or replace (two consents at once: the later write wins, neither fails)."""
    await insert_ignore(conn, consents, [row])
    await conn.execute(
        update(consents)
        .where(
            consents.c.application_id == row["application_id"],
            consents.c.user_id == row["user_id"],
        )
        .values(scopes=row["scopes"], resources=row["resources"], updated_at=row["updated_at"])
    )


async def remove(conn: AsyncConnection, application_id: str, user_id: str) -> bool:
    result = await conn.execute(
        delete(consents).where(
            consents.c.application_id == application_id, consents.c.user_id == user_id
        )
    )
    return result.rowcount == 1
