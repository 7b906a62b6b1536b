"""SQL that removes expired rows, in small batches, from every process at once.

Each batch is its own short transaction: ``DELETE … WHERE <key> IN (SELECT <key> … WHERE
<expired> LIMIT n)``. The sub-select with ``LIMIT`` is the one bounded-delete form both SQLite
and PostgreSQL accept (``DELETE … LIMIT`` is neither standard nor enabled in SQLite builds).
On PostgreSQL the sub-select takes ``FOR UPDATE SKIP LOCKED``: two processes purging together
split the rows between them instead of waiting on each other's locks, and no batch holds locks
for longer than it takes to delete ``n`` rows by primary key. SQLite has no row locks; its
writers take turns under the busy timeout, and a batch deletes rows the other already took as
a harmless no-op.

Only rows whose own expiry lies before the cut-off are selected, so a row that is still valid
is never touched, whatever another process is doing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.storage.tables import logs, oidc_model_instances, passcodes, sentinel_activities

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class Target:
    """One table to purge: which rows count as expired at ``cutoff`` (epoch ms)."""

    table: Table
    key: tuple[str, ...]

    def expired(self, cutoff: int) -> ColumnElement[bool]:
        t = self.table
        if t is sentinel_activities:
            # Sentinel events have no expiry of their own: they expire when no counting window
            # can reach them any more, and never while a decision they carry is in force.
            return (t.c.created_at < cutoff) & (t.c.decision_expires_at < cutoff)
        if t is logs:  # audit entries expire by age (the retention setting picks the cut-off)
            return t.c.created_at < cutoff
        return t.c.expires_at < cutoff


ARTIFACTS = Target(oidc_model_instances, ("model_name", "id"))
PASSCODES = Target(passcodes, ("id",))
SENTINEL = Target(sentinel_activities, ("id",))
AUDIT_LOGS = Target(logs, ("id",))


async def delete_batch(engine: AsyncEngine, target: Target, cutoff: int, batch: int) -> int:
    """Delete at most ``batch`` expired rows of ``target`` in one transaction; the count."""
    columns = [target.table.c[name] for name in target.key]
    chosen = (
        select(*columns)
        .where(target.expired(cutoff))
        .limit(batch)
        .with_for_update(skip_locked=True)  # PostgreSQL only; SQLite renders nothing
    )
    key = columns[0] if len(columns) == 1 else tuple_(*columns)
    async with engine.begin() as conn:
        result = await conn.execute(delete(target.table).where(key.in_(chosen)))
    return int(result.rowcount or 0)


async def delete_expired(
    engine: AsyncEngine, target: Target, cutoff: int, batch: int = DEFAULT_BATCH
) -> int:
    """Delete every row of ``target`` expired before ``cutoff``, one batch at a time."""
    total = 0
    while True:
        deleted = await delete_batch(engine, target, cutoff, batch)
        total += deleted
        if deleted < batch:
            return total
