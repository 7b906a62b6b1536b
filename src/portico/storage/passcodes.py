"""Verification codes' rows (``passcodes``): one open code per interaction and purpose.

The rules (how a code is made, MACed, checked, and what each failure means) are in
``experience/codes.py``. Here: replacing the open code, reading it, taking one attempt with a
guarded ``UPDATE … WHERE try_count < max`` (atomic on both databases, so parallel guesses
never exceed the limit) and consuming it once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.storage.tables import passcodes


@dataclass(frozen=True)
class OpenCode:
    """The interaction's unconsumed code for one purpose, as stored."""

    id: str
    email: str | None
    phone: str | None
    mac: str
    expires_at: int


async def replace(
    engine: AsyncEngine,
    tenant_id: str,
    jti: str,
    purpose: str,
    *,
    row_id: str,
    email: str | None,
    phone: str | None,
    mac: str,
    created_at: int,
    expires_at: int,
) -> None:
    """Store a new code for (interaction, purpose), deleting any earlier one, in one
    transaction."""
    async with engine.begin() as conn:
        await conn.execute(
            delete(passcodes).where(
                passcodes.c.tenant_id == tenant_id,
                passcodes.c.interaction_jti == jti,
                passcodes.c.type == purpose,
            )
        )
        await conn.execute(
            passcodes.insert().values(
                tenant_id=tenant_id,
                id=row_id,
                interaction_jti=jti,
                email=email,
                phone=phone,
                type=purpose,
                code=mac,
                consumed=False,
                try_count=0,
                created_at=created_at,
                expires_at=expires_at,
            )
        )


async def find_open(engine: AsyncEngine, tenant_id: str, jti: str, purpose: str) -> OpenCode | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(
                    passcodes.c.id,
                    passcodes.c.email,
                    passcodes.c.phone,
                    passcodes.c.code,
                    passcodes.c.expires_at,
                ).where(
                    passcodes.c.tenant_id == tenant_id,
                    passcodes.c.interaction_jti == jti,
                    passcodes.c.type == purpose,
                    passcodes.c.consumed.is_(False),
                )
            )
        ).first()
    if row is None:
        return None
    return OpenCode(row.id, row.email, row.phone, row.code, int(row.expires_at))


async def take_attempt(engine: AsyncEngine, row_id: str, max_attempts: int) -> bool:
    """Count one attempt on an unconsumed code; False when it already had ``max_attempts``
    (or was consumed meanwhile)."""
    async with engine.begin() as conn:
        taken = await conn.execute(
            update(passcodes)
            .where(
                passcodes.c.id == row_id,
                passcodes.c.consumed.is_(False),
                passcodes.c.try_count < max_attempts,
            )
            .values(try_count=passcodes.c.try_count + 1)
        )
    return taken.rowcount == 1


async def consume(engine: AsyncEngine, row_id: str) -> bool:
    """Mark the code used; False when another request used it first."""
    async with engine.begin() as conn:
        used = await conn.execute(
            update(passcodes)
            .where(passcodes.c.id == row_id, passcodes.c.consumed.is_(False))
            .values(consumed=True)
        )
    return used.rowcount == 1
