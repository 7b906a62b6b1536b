"""The framework card an application was created from in the console, remembered so that its
page keeps showing that card's guide.

Kept in ``logto_configs`` under :data:`GUIDES_KEY` (``{app id: card key}``), not in the
application's ``customData``, which belongs to the customer's own code and is returned by
/api as it was written. The entry is the console's, read only to pick the guide: written in
the creating transaction, removed with the application by the console (an application
deleted through /api leaves an entry naming an id that no longer exists, which nothing
reads).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage import configs

GUIDES_KEY = "console.applicationGuides"


async def remembered(conn: AsyncConnection, tenant_id: str, app_id: str) -> str | None:
    """The key of the card ``app_id`` was created from, if the console created it."""
    stored = await configs.get(conn, tenant_id, GUIDES_KEY) or {}
    return stored.get(app_id) if isinstance(stored, dict) else None


async def remember(conn: AsyncConnection, tenant_id: str, app_id: str, key: str | None) -> None:
    """Record (``key``) or forget (None) the card of ``app_id``, in the caller's transaction:
    after its write to ``applications``, so that the transaction already holds the write lock
    (SQLite); on PostgreSQL the row (made first if absent) is locked for the
    read-modify-write, so two creations at once both stay recorded."""
    await configs.add_if_absent(conn, tenant_id, GUIDES_KEY, {})
    stored = await configs.get(conn, tenant_id, GUIDES_KEY, for_update=True)
    guides = dict(stored) if isinstance(stored, dict) else {}
    if key is None and app_id not in guides:
        return
    if key is None:
        del guides[app_id]
    else:
        guides[app_id] = key
    await configs.put(conn, tenant_id, GUIDES_KEY, guides)
