"""SQL for a user's MFA factors (``user_mfa_factors``), backup codes (``mfa_backup_codes``)
and the user's ``logto_config``. The single-use rules are guarded updates here, so that
parallel requests on any number of processes cannot both pass: a TOTP time step only
moves forward, a signature counter only moves forward, a backup code is spent once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import (
    mfa_backup_codes,
    organization_user_relations,
    organizations,
    user_mfa_factors,
    users,
)

factors = user_mfa_factors


async def list_factors(conn: AsyncConnection, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    """The user's factors, oldest first, each with ``remaining`` (unused backup codes)."""
    remaining = (
        select(func.count())
        .where(mfa_backup_codes.c.factor_id == factors.c.id, mfa_backup_codes.c.used_at.is_(None))
        .scalar_subquery()
    )
    rows = await conn.execute(
        select(factors, remaining.label("remaining"))
        .where(factors.c.tenant_id == tenant_id, factors.c.user_id == user_id)
        .order_by(factors.c.created_at, factors.c.id)
    )
    return [dict(row._mapping) for row in rows]


async def insert_factor(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(factors).values(row))


async def delete_factor(
    conn: AsyncConnection, tenant_id: str, user_id: str, factor_id: str
) -> bool:
    result = await conn.execute(
        delete(factors).where(
            factors.c.tenant_id == tenant_id,
            factors.c.user_id == user_id,
            factors.c.id == factor_id,
        )
    )
    return result.rowcount == 1


async def delete_factors(
    conn: AsyncConnection, tenant_id: str, user_id: str, kind: str | None = None
) -> int:
    """Every factor of the user (of ``kind`` only, when given)."""
    condition = [factors.c.tenant_id == tenant_id, factors.c.user_id == user_id]
    if kind is not None:
        condition.append(factors.c.type == kind)
    result = await conn.execute(delete(factors).where(*condition))
    return int(result.rowcount)


async def insert_backup_codes(conn: AsyncConnection, factor_id: str, hashes: list[str]) -> None:
    await conn.execute(
        insert(mfa_backup_codes), [{"factor_id": factor_id, "code_hash": h} for h in hashes]
    )


async def spend_backup_code(
    conn: AsyncConnection, factor_id: str, code_hash: str, now: int
) -> bool:
    """Mark the code used if it is unused: True for exactly one caller."""
    result = await conn.execute(
        update(mfa_backup_codes)
        .where(
            mfa_backup_codes.c.factor_id == factor_id,
            mfa_backup_codes.c.code_hash == code_hash,
            mfa_backup_codes.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if result.rowcount == 1:
        await conn.execute(
            update(factors).where(factors.c.id == factor_id).values(last_used_at=now)
        )
    return result.rowcount == 1


async def advance_counter(conn: AsyncConnection, factor_id: str, value: int, now: int) -> bool:
    """Move the factor's counter (a TOTP time step, a signature counter) to ``value`` if it
    is below it: True for exactly one caller per value."""
    result = await conn.execute(
        update(factors)
        .where(
            factors.c.id == factor_id,
            or_(factors.c.counter.is_(None), factors.c.counter < value),
        )
        .values(counter=value, last_used_at=now)
    )
    return result.rowcount == 1


async def touch(conn: AsyncConnection, factor_id: str, now: int) -> None:
    """The factor was used now (an authenticator that keeps no signature counter)."""
    await conn.execute(update(factors).where(factors.c.id == factor_id).values(last_used_at=now))


async def rename(
    conn: AsyncConnection, tenant_id: str, user_id: str, factor_id: str, name: str
) -> bool:
    result = await conn.execute(
        update(factors)
        .where(
            factors.c.tenant_id == tenant_id,
            factors.c.user_id == user_id,
            factors.c.id == factor_id,
        )
        .values(name=name)
    )
    return result.rowcount == 1


async def find_by_credential(
    conn: AsyncConnection, tenant_id: str, credential_id: str
) -> dict[str, Any] | None:
    """The WebAuthn factor with this credential id (passkey sign-in)."""
    row = (
        await conn.execute(
            select(factors).where(
                factors.c.tenant_id == tenant_id, factors.c.credential_id == credential_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def read_config(conn: AsyncConnection, tenant_id: str, user_id: str) -> dict[str, Any] | None:
    """The user's ``logto_config``; None when there is no such user."""
    value = (
        await conn.execute(
            select(users.c.logto_config).where(
                users.c.tenant_id == tenant_id, users.c.id == user_id
            )
        )
    ).scalar_one_or_none()
    return None if value is None else dict(value)


async def write_config(
    conn: AsyncConnection, tenant_id: str, user_id: str, config: dict[str, Any]
) -> bool:
    result = await conn.execute(
        update(users)
        .where(users.c.tenant_id == tenant_id, users.c.id == user_id)
        .values(logto_config=config)
    )
    return result.rowcount == 1


async def organization_requires(conn: AsyncConnection, tenant_id: str, user_id: str) -> bool:
    """Whether one of the user's organizations requires MFA (``is_mfa_required``)."""
    found = await conn.execute(
        select(organizations.c.id)
        .join(
            organization_user_relations,
            organization_user_relations.c.organization_id == organizations.c.id,
        )
        .where(
            organization_user_relations.c.tenant_id == tenant_id,
            organization_user_relations.c.user_id == user_id,
            organizations.c.is_mfa_required.is_(True),
        )
        .limit(1)
    )
    return found.first() is not None
