"""SQL for ``logs`` (the audit log)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, literal, select, union_all
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.storage import hot_path
from portico.storage.database import insert_ignore
from portico.storage.tables import applications, logs, users

_INSERT = insert(logs)  # built once: every sign-in and token request adds an entry
# ON CONFLICT DO NOTHING (both databases' syntax): a batch whose connection was lost after
# it was sent may have committed, and is written again.
_HOT_INSERT = hot_path.HotStatement(postgresql.insert(logs).on_conflict_do_nothing())


async def insert_logs(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """One statement for any number of rows (executemany)."""
    await conn.execute(_INSERT, rows)


async def write_batch(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    """The audit buffer's batch in one transaction, on the hot path when it can be (through
    SQLAlchemy it cost ~7 % of a refresh grant's CPU on PostgreSQL). Idempotent: an entry
    already stored (same id) is skipped, so a batch that may have been written is simply
    written again."""
    hot = hot_path.for_engine(engine)
    if hot is not None and await hot.write_many(_HOT_INSERT, rows) is not None:
        return
    async with engine.begin() as conn:
        await insert_ignore(conn, logs, rows)


async def get_log(conn: AsyncConnection, tenant_id: str, log_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(select(logs).where(logs.c.tenant_id == tenant_id, logs.c.id == log_id))
    ).first()
    return dict(row._mapping) if row else None


def _filters(
    tenant_id: str,
    user_id: str | None,
    application_id: str | None,
    key: str | None,
    start_time: int | None,
    end_time: int | None,
) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = [logs.c.tenant_id == tenant_id]
    if user_id:
        conditions.append(logs.c.user_id == user_id)
    if application_id:
        conditions.append(logs.c.application_id == application_id)
    if key:
        conditions.append(logs.c.key == key)
    if start_time is not None:
        conditions.append(logs.c.created_at >= start_time)
    if end_time is not None:
        conditions.append(logs.c.created_at <= end_time)
    return and_(*conditions)


async def find_logs(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    user_id: str | None = None,
    application_id: str | None = None,
    key: str | None = None,
    start_time: int | None = None,
    end_time: int | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, page)``: newest first."""
    where = _filters(tenant_id, user_id, application_id, key, start_time, end_time)
    total = (await conn.execute(select(func.count()).select_from(logs).where(where))).scalar_one()
    rows = await conn.execute(
        select(logs)
        .where(where)
        .order_by(logs.c.created_at.desc(), logs.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return int(total), [dict(r._mapping) for r in rows]


async def names(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    user_ids: set[str],
    application_ids: set[str],
    admin_tenant_id: str,
    admin_ids: set[str],
) -> dict[tuple[str, str], str]:
    """What a page of entries names, in one query: ``("user", id)`` -> the user's name (else
    username, email or phone), ``("application", id)`` -> its name, ``("admin", id)`` -> the
    console admin's username. Ids gone since are absent."""
    parts = []
    if user_ids:
        label = func.coalesce(users.c.name, users.c.username, users.c.primary_email,
                              users.c.primary_phone)  # fmt: skip
        parts.append(
            select(literal("user"), users.c.id, label).where(
                users.c.tenant_id == tenant_id, users.c.id.in_(user_ids)
            )
        )
    if application_ids:
        parts.append(
            select(literal("application"), applications.c.id, applications.c.name).where(
                applications.c.tenant_id == tenant_id, applications.c.id.in_(application_ids)
            )
        )
    if admin_ids:
        parts.append(
            select(literal("admin"), users.c.id, users.c.username).where(
                users.c.tenant_id == admin_tenant_id, users.c.id.in_(admin_ids)
            )
        )
    if not parts:
        return {}
    rows = await conn.execute(union_all(*parts))
    return {(kind, row_id): name for kind, row_id, name in rows if name}
