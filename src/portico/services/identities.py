"""Social identities of users: Logto's ``users.identities`` JSON (``{target: {userId,
details}}``, what the API and the ``identities`` claim show) kept in step with the
``user_identities`` index table (what lookups and uniqueness use).

Every change goes through here, inside the caller's transaction, so the two never disagree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.database import now_ms
from portico.storage.tables import user_identities, users


class IdentityTaken(Exception):
    """The provider account is linked to another user already (or this user has another
    account of the same provider)."""


async def find_user_id(
    conn: AsyncConnection, tenant_id: str, target: str, identity_id: str
) -> str | None:
    return (
        await conn.execute(
            select(user_identities.c.user_id).where(
                user_identities.c.tenant_id == tenant_id,
                user_identities.c.target == target,
                user_identities.c.identity_id == identity_id,
            )
        )
    ).scalar_one_or_none()


async def link(
    conn: AsyncConnection,
    tenant_id: str,
    user_id: str,
    target: str,
    identity_id: str,
    details: dict[str, Any] | None,
) -> None:
    """Attach (or replace) the user's identity at ``target``. Raises :class:`IdentityTaken`
    when another user holds that provider account; the caller's transaction is left usable."""
    current = await _identities(conn, tenant_id, user_id)
    if current is None:
        raise LookupError(user_id)
    try:
        async with conn.begin_nested():
            await conn.execute(
                delete(user_identities).where(
                    user_identities.c.tenant_id == tenant_id,
                    user_identities.c.user_id == user_id,
                    user_identities.c.target == target,
                )
            )
            await conn.execute(
                insert(user_identities).values(
                    tenant_id=tenant_id,
                    target=target,
                    identity_id=identity_id,
                    user_id=user_id,
                    created_at=now_ms(),
                )
            )
    except IntegrityError:
        raise IdentityTaken(target) from None
    entry: dict[str, Any] = {"userId": identity_id}
    if details is not None:
        entry["details"] = details
    identities = {**current, target: entry}
    await _store(conn, tenant_id, user_id, identities)


async def unlink(conn: AsyncConnection, tenant_id: str, user_id: str, target: str) -> bool:
    """Remove the user's identity at ``target``; False when there was none."""
    current = await _identities(conn, tenant_id, user_id)
    if current is None or target not in current:
        return False
    await conn.execute(
        delete(user_identities).where(
            user_identities.c.tenant_id == tenant_id,
            user_identities.c.user_id == user_id,
            user_identities.c.target == target,
        )
    )
    identities = {k: v for k, v in current.items() if k != target}
    await _store(conn, tenant_id, user_id, identities)
    return True


async def _identities(conn: AsyncConnection, tenant_id: str, user_id: str) -> dict[str, Any] | None:
    """The user's ``identities`` JSON; None when there is no such user."""
    row = (
        await conn.execute(
            select(users.c.identities).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
        )
    ).first()
    return None if row is None else dict(row.identities or {})


async def _store(
    conn: AsyncConnection, tenant_id: str, user_id: str, identities: dict[str, Any]
) -> None:
    await conn.execute(
        update(users)
        .where(users.c.tenant_id == tenant_id, users.c.id == user_id)
        .values(identities=identities, updated_at=now_ms())
    )
