"""The accounts a sign-in deals with, as the engine reads and records them: who owns an
identifier, the interaction's user, a completed sign-in. Pages and the Experience API ask
here (never ``portico.storage`` themselves), so "who is this" has one answer for both.

Reads run outside any transaction (``storage/hot_path.first_row``): a sign-in holds no pooled
connection while it hashes a password or waits for the user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portico.storage import artifacts
from portico.storage import users as users_repo
from portico.storage.database import now_ms

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


async def owner(engine: AsyncEngine, tenant_id: str, identifier: str) -> dict[str, Any] | None:
    """The user whose username, email or phone (in its stored form) ``identifier`` is."""
    return await users_repo.read_by_identifier(engine, tenant_id, identifier)


async def account(engine: AsyncEngine, tenant_id: str, user_id: str) -> dict[str, Any] | None:
    """The user with this id in the tenant, or None."""
    return await users_repo.read_user(engine, tenant_id, user_id)


async def record_sign_in(conn: AsyncConnection, user_id: str) -> None:
    """The user's last sign-in is now, in the caller's (the sign-in's) transaction."""
    await users_repo.touch_sign_in(conn, user_id, now_ms())


async def end_grants(conn: AsyncConnection, tenant_id: str, user_id: str) -> None:
    """Every session, code and token of the user ends (a password reset), in the caller's
    transaction."""
    await artifacts.revoke_account(conn, tenant_id, user_id)
