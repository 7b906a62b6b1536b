"""Relation tables (a row per pair: an organization's domains, roles, connectors; a role's
scopes...): the three statements every one of them needs, written once. ``fixed`` names the
columns a call is about (``{"tenant_id": …, "organization_id": …}``), ``column`` the one
that varies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.database import insert_ignore


async def link(
    conn: AsyncConnection, table: Table, fixed: dict[str, Any], column: str, values: list[Any]
) -> None:
    """A row per value; rows already there are skipped (two requests at once: a no-op)."""
    rows = [{**fixed, column: value} for value in values]
    if rows:
        await insert_ignore(conn, table, rows)


async def unlink(
    conn: AsyncConnection,
    table: Table,
    fixed: dict[str, Any],
    column: str,
    values: list[Any] | None = None,
) -> int:
    """The rows of ``values`` (``None``: every row of ``fixed``); how many went."""
    statement = delete(table).where(*(table.c[k] == v for k, v in fixed.items()))
    if values is not None:
        statement = statement.where(table.c[column].in_(values))
    return int((await conn.execute(statement)).rowcount)


async def page(
    conn: AsyncConnection, query: Select[Any], *, offset: int | None, limit: int | None
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, rows)`` of an ordered query; ``limit=None`` returns every row."""
    total = (
        await conn.execute(select(func.count()).select_from(query.order_by(None).subquery()))
    ).scalar()
    if limit is not None:
        query = query.offset(offset or 0).limit(limit)
    return int(total or 0), [dict(r._mapping) for r in await conn.execute(query)]
