"""SQL for ``hooks`` and the ``webhook_deliveries`` outbox.

A delivery is leased, never locked for the length of an HTTP request: :func:`claim` marks due
rows with the worker's name and a lease expiry in one statement (PostgreSQL skips rows another
worker is claiming; SQLite runs one writer at a time), so two processes never hold the same
row, and a process killed mid-delivery leaves a lease that simply runs out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import applications, hooks, logs, users, webhook_deliveries

PENDING, SUCCEEDED, FAILED = "Pending", "Succeeded", "Failed"
LOG_PREFIX = "TriggerHook."
_d = webhook_deliveries


# Hooks ---------------------------------------------------------------------------------------
async def insert_hook(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(hooks).values(**row))


async def get_hook(conn: AsyncConnection, tenant_id: str, hook_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(hooks).where(hooks.c.tenant_id == tenant_id, hooks.c.id == hook_id)
        )
    ).first()
    return dict(row._mapping) if row else None


async def list_hooks(
    conn: AsyncConnection, tenant_id: str, offset: int | None = None, limit: int | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, page)``, oldest first as Logto lists them."""
    where = hooks.c.tenant_id == tenant_id
    total = (await conn.execute(select(func.count()).select_from(hooks).where(where))).scalar_one()
    query = select(hooks).where(where).order_by(hooks.c.created_at, hooks.c.id)
    rows = await conn.execute(query.offset(offset).limit(limit))
    return int(total), [dict(r._mapping) for r in rows]


async def enabled_hooks(conn: AsyncConnection, tenant_id: str) -> list[dict[str, Any]]:
    """What an event is matched against: id and subscriptions of every enabled hook."""
    rows = await conn.execute(
        select(hooks.c.id, hooks.c.event, hooks.c.events).where(
            hooks.c.tenant_id == tenant_id, hooks.c.enabled.is_(True)
        )
    )
    return [dict(r._mapping) for r in rows]


async def hooks_by_id(conn: AsyncConnection, ids: set[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.execute(select(hooks).where(hooks.c.id.in_(ids)))
    return {r.id: dict(r._mapping) for r in rows}


async def update_hook(
    conn: AsyncConnection, tenant_id: str, hook_id: str, values: dict[str, Any]
) -> bool:
    result = await conn.execute(
        update(hooks).where(hooks.c.tenant_id == tenant_id, hooks.c.id == hook_id).values(**values)
    )
    return bool(result.rowcount)


async def delete_hook(conn: AsyncConnection, tenant_id: str, hook_id: str) -> bool:
    await conn.execute(delete(_d).where(_d.c.tenant_id == tenant_id, _d.c.hook_id == hook_id))
    result = await conn.execute(
        delete(hooks).where(hooks.c.tenant_id == tenant_id, hooks.c.id == hook_id)
    )
    return bool(result.rowcount)


# What payloads name -------------------------------------------------------------------------
async def user_row(conn: AsyncConnection, tenant_id: str, user_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
        )
    ).first()
    return dict(row._mapping) if row else None


async def application_row(
    conn: AsyncConnection, tenant_id: str, app_id: str
) -> dict[str, Any] | None:
    cols = (applications.c.id, applications.c.type, applications.c.name, applications.c.description)
    row = (
        await conn.execute(
            select(*cols).where(applications.c.tenant_id == tenant_id, applications.c.id == app_id)
        )
    ).first()
    return dict(row._mapping) if row else None


# Outbox --------------------------------------------------------------------------------------
async def insert_deliveries(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(_d), rows)


async def deliveries(conn: AsyncConnection, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.execute(select(_d.c.id, _d.c.payload).where(_d.c.id.in_(ids)))
    return [dict(r._mapping) for r in rows]


async def release(
    conn: AsyncConnection, delivery_id: str, payload: dict[str, Any], now: int
) -> None:
    """A held delivery becomes due now, with its payload complete."""
    await conn.execute(
        update(_d)
        .where(_d.c.id == delivery_id, _d.c.status == PENDING, _d.c.attempts == 0)
        .values(payload=payload, next_attempt_at=now, updated_at=now)
    )


async def any_due(conn: AsyncConnection, now: int) -> bool:
    """Whether a round has anything to lease (a read, so that an idle worker takes no write
    lock)."""
    due = select(_d.c.id).where(_d.c.status == PENDING, _d.c.next_attempt_at <= now).limit(1)
    return (await conn.execute(due)).first() is not None


async def claim(
    conn: AsyncConnection, owner: str, now: int, lease_ms: int, limit: int, per_hook: int
) -> list[dict[str, Any]]:
    """Lease up to ``limit`` due deliveries to ``owner`` until ``now + lease_ms``, skipping
    hooks that already have ``per_hook`` deliveries leased anywhere."""
    inflight = _d.alias("inflight")
    busy = (
        select(func.count())
        .where(
            inflight.c.hook_id == _d.c.hook_id,
            inflight.c.status == PENDING,
            inflight.c.lease_expires_at > now,
        )
        .scalar_subquery()
    )
    free = or_(_d.c.lease_expires_at.is_(None), _d.c.lease_expires_at <= now)
    due = and_(_d.c.status == PENDING, _d.c.next_attempt_at <= now, free)
    chosen = (
        select(_d.c.id)
        .where(due, busy < per_hook)
        .order_by(_d.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=_d)  # PostgreSQL only; SQLite renders nothing
    )
    result = await conn.execute(
        update(_d)
        .where(_d.c.id.in_(chosen), due)
        .values(lease_owner=owner, lease_expires_at=now + lease_ms)
        .returning(*_d.c)
    )
    return [dict(r._mapping) for r in result]


async def unlease(conn: AsyncConnection, owner: str, ids: list[str]) -> None:
    """Give back leased rows this worker will not deliver in this round."""
    if ids:
        await conn.execute(
            update(_d)
            .where(_d.c.id.in_(ids), _d.c.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )


async def finish(
    conn: AsyncConnection, delivery_id: str, owner: str, values: dict[str, Any]
) -> bool:
    """Record an attempt's outcome (``values``: status, next attempt, last response...) if
    the lease is still this worker's; the attempt is counted either way the row goes."""
    result = await conn.execute(
        update(_d)
        .where(_d.c.id == delivery_id, _d.c.lease_owner == owner)
        .values(attempts=_d.c.attempts + 1, lease_owner=None, lease_expires_at=None, **values)
    )
    return bool(result.rowcount)


async def delivery_states(
    conn: AsyncConnection, tenant_id: str, hook_id: str
) -> list[dict[str, Any]]:
    """Every delivery of a hook, newest first (tests and diagnostics)."""
    rows = await conn.execute(
        select(_d)
        .where(_d.c.tenant_id == tenant_id, _d.c.hook_id == hook_id)
        .order_by(_d.c.created_at.desc())
    )
    return [dict(r._mapping) for r in rows]


async def purge_finished(conn: AsyncConnection, before: int, batch: int = 500) -> int:
    """Delete delivered or given-up rows older than ``before`` (their attempts stay in the
    audit log)."""
    chosen = (
        select(_d.c.id)
        .where(_d.c.status != PENDING, _d.c.updated_at < before)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    result = await conn.execute(delete(_d).where(_d.c.id.in_(chosen)))
    return int(result.rowcount or 0)


# Attempts in the audit log (Logto's ``TriggerHook.<event>`` entries) -------------------------
def _attempts_of(tenant_id: str, hook_id: str, since: int | None, until: int | None) -> Any:
    conditions = [
        logs.c.tenant_id == tenant_id,
        logs.c.key.startswith(LOG_PREFIX, autoescape=True),
        logs.c.payload["hookId"].as_string() == hook_id,
    ]
    if since is not None:
        conditions.append(logs.c.created_at >= since)
    if until is not None:
        conditions.append(logs.c.created_at <= until)
    return and_(*conditions)


async def recent_logs(
    conn: AsyncConnection,
    tenant_id: str,
    hook_id: str,
    *,
    key: str | None,
    since: int | None,
    until: int | None,
    offset: int,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    where = _attempts_of(tenant_id, hook_id, since, until)
    if key:
        where = and_(where, logs.c.key == key)
    total = (await conn.execute(select(func.count()).select_from(logs).where(where))).scalar_one()
    rows = await conn.execute(
        select(logs)
        .where(where)
        .order_by(logs.c.created_at.desc(), logs.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return int(total), [dict(r._mapping) for r in rows]


async def execution_stats(
    conn: AsyncConnection, tenant_id: str, hook_ids: list[str], since: int
) -> dict[str, dict[str, int]]:
    """Per hook: attempts (``requestCount``) and successes (``successCount``) since ``since``."""
    hook_id = logs.c.payload["hookId"].as_string()
    success = func.sum(case((logs.c.payload["result"].as_string() == "Success", 1), else_=0))
    rows = await conn.execute(
        select(hook_id.label("hook_id"), func.count().label("requests"), success.label("ok"))
        .where(
            logs.c.tenant_id == tenant_id,
            logs.c.key.startswith(LOG_PREFIX, autoescape=True),
            logs.c.created_at > since,
            hook_id.in_(hook_ids),
        )
        .group_by(hook_id)
    )
    stats = {i: {"requestCount": 0, "successCount": 0} for i in hook_ids}
    for row in rows:
        stats[row.hook_id] = {"requestCount": int(row.requests), "successCount": int(row.ok or 0)}
    return stats
