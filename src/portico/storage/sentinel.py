"""The sentinel's rows (``sentinel_activities``): security events per keyed target digest.

All of the sentinel's SQL (the rules, what a target is and when it locks, are in
``experience/sentinel.py``). The one subtle statement is the reservation: ``INSERT … SELECT
… WHERE`` the window holds fewer failures than the limit (and, throttled, the delay after the
newest one has passed), serialised per target (SQLite runs one writer at a time; PostgreSQL
takes a transaction-level advisory lock on the target), so parallel attempts on any number of
processes never get more than the limit past the check.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.ids import standard_id
from portico.storage import hot_path
from portico.storage.tables import sentinel_activities

FAILED = "Failed"
SUCCESS = "Success"
SIGN_IN = "SignIn"
USER = "User"
# PostgreSQL advisory locks (classid, objid): this class serialises reservations per target.
_PG_LOCK_CLASS = 0x73656E74


@dataclass(frozen=True)
class Throttle:
    """A reservation's extra condition: after ``free`` failures in the window, the newest
    must be ``delays_ms[n - free]`` old (the last entry for any count past the list)."""

    free: int
    delays_ms: tuple[int, ...]


def _failures_in_window() -> Any:
    """The target's failures in the window: ``n`` and the time of the ``newest`` (0: none)."""
    c = sentinel_activities.c
    return (
        select(func.count().label("n"), func.coalesce(func.max(c.created_at), 0).label("newest"))
        .where(
            c.tenant_id == bindparam("p_tenant"),
            c.target_type == USER,
            c.target_hash == bindparam("p_target"),
            c.action == SIGN_IN,
            c.action_result == FAILED,
            c.created_at > bindparam("p_since"),
        )
        .subquery("failures")
    )


@functools.cache
def _reserve_statement(throttle: Throttle | None = None) -> Any:
    """``INSERT … SELECT … WHERE (failures in the window) < max``: one failure recorded ahead
    of the check unless the window is full, in one statement (built once per throttle). With
    a ``throttle``, also only once its delay after the newest failure has passed: the delay
    for each count is a ``CASE`` written out here, so both databases decide it in the same
    statement."""
    window = _failures_in_window()
    allowed = window.c.n < bindparam("p_max")
    if throttle is not None:
        delays = throttle.delays_ms
        wait = case(
            *((window.c.n < throttle.free + i, delay) for i, delay in enumerate(delays[:-1], 1)),
            else_=delays[-1],
        )
        waited = window.c.newest <= bindparam("p_now") - wait
        allowed = and_(allowed, or_(window.c.n < throttle.free, waited))
    c = sentinel_activities.c
    values = {
        "tenant_id": bindparam("p_tenant", type_=c.tenant_id.type),
        "id": bindparam("p_id", type_=c.id.type),
        "target_type": literal(USER, c.target_type.type),
        "target_hash": bindparam("p_target", type_=c.target_hash.type),
        "action": literal(SIGN_IN, c.action.type),
        "action_result": literal(FAILED, c.action_result.type),
        "payload": literal({}, c.payload.type),
        "decision": literal("Allowed", c.decision.type),
        "decision_expires_at": literal(0, c.decision_expires_at.type),
        "created_at": bindparam("p_now", type_=c.created_at.type),
    }
    return insert(sentinel_activities).from_select(
        list(values), select(*values.values()).select_from(window).where(allowed)
    )


_RESERVE = _reserve_statement()
# Built once, as _RESERVE: a successful sign-in runs both (building a statement and its
# cache key per call cost more than running it).
_RELEASE = delete(sentinel_activities).where(sentinel_activities.c.id == bindparam("p_id"))
# Each is one statement, atomic by itself, so both take the hot path (storage/hot_path.py):
# two of a sign-in's few writes. The reserve only where one writer runs at a time (SQLite):
# PostgreSQL serialises it under an advisory lock, in a transaction.
_HOT_RESERVE = hot_path.HotStatement(_RESERVE)
_HOT_RELEASE = hot_path.HotStatement(_RELEASE)
_CLEAR = delete(sentinel_activities).where(
    sentinel_activities.c.tenant_id == bindparam("p_tenant"),
    sentinel_activities.c.target_type == USER,
    sentinel_activities.c.target_hash == bindparam("p_target"),
    sentinel_activities.c.action == SIGN_IN,
)


class SentinelStore:
    """The sentinel's reads and writes on one engine (and its hot path, where there is one)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._hot = hot_path.for_engine(engine)

    async def record(
        self, tenant_id: str, kind: str, target: str, action: str, result: str, now: int
    ) -> None:
        """One event at ``now`` (epoch ms; the engine's clock)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sentinel_activities.insert().values(
                    tenant_id=tenant_id,
                    id=standard_id(),
                    target_type=kind,
                    target_hash=target,
                    action=action,
                    action_result=result,
                    payload={},
                    decision="Allowed",
                    decision_expires_at=0,
                    created_at=now,
                )
            )

    async def events(
        self, tenant_id: str, kind: str, target: str, action: str, result: str, since: int
    ) -> tuple[int, int]:
        """How many matching events since ``since``, and the time of the newest (0: none)."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(func.count(), func.max(sentinel_activities.c.created_at)).where(
                        sentinel_activities.c.tenant_id == tenant_id,
                        sentinel_activities.c.target_type == kind,
                        sentinel_activities.c.target_hash == target,
                        sentinel_activities.c.action == action,
                        sentinel_activities.c.action_result == result,
                        sentinel_activities.c.created_at > since,
                    )
                )
            ).one()
        return int(row[0]), int(row[1] or 0)

    async def nth_newest(
        self, tenant_id: str, kind: str, target: str, action: str, result: str, since: int, n: int
    ) -> int:
        """The time of the ``n``-th newest matching event since ``since`` (0: fewer than ``n``):
        when it leaves the window, the window holds ``n - 1`` of them."""
        c = sentinel_activities.c
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                select(c.created_at)
                .where(
                    c.tenant_id == tenant_id,
                    c.target_type == kind,
                    c.target_hash == target,
                    c.action == action,
                    c.action_result == result,
                    c.created_at > since,
                )
                .order_by(c.created_at.desc())
                .offset(n - 1)
                .limit(1)
            )
        return int(found or 0)

    async def reserve(
        self,
        tenant_id: str,
        target: str,
        event_id: str,
        now: int,
        since: int,
        max_attempts: int,
        throttle: Throttle | None = None,
    ) -> bool:
        """Record failure ``event_id`` of ``target`` at ``now`` unless the window (failures
        after ``since``) holds ``max_attempts`` or the throttle's delay has not passed;
        whether it was recorded."""
        params = {
            "p_tenant": tenant_id, "p_id": event_id, "p_target": target, "p_now": now,
            "p_since": since, "p_max": max_attempts,
        }  # fmt: skip
        written = None
        if self._hot is not None and throttle is None:  # one writer at a time (SQLite)
            written = await self._hot.write(_HOT_RESERVE, params, serialised=True)
        if written is None:  # PostgreSQL, SQLite busy, a throttle: a transaction, serialised
            async with self._engine.begin() as conn:
                await _serialise(conn, target)
                written = (await conn.execute(_reserve_statement(throttle), params)).rowcount
        return written == 1

    async def release(self, event_id: str) -> None:
        """Take a reserved failure back."""
        params = {"p_id": event_id}
        if self._hot is not None and await self._hot.write(_HOT_RELEASE, params) is not None:
            return
        async with hot_path.autocommit(self._engine).begin() as conn:  # one DELETE
            await conn.execute(_RELEASE, params)

    async def clear(self, tenant_id: str, target: str, conn: AsyncConnection | None = None) -> None:
        """Delete the target's sign-in events; ``conn``: in the caller's transaction."""
        params = {"p_tenant": tenant_id, "p_target": target}
        if conn is not None:
            await conn.execute(_CLEAR, params)
            return
        async with self._engine.begin() as own:
            await own.execute(_CLEAR, params)


async def _serialise(conn: AsyncConnection, target: str) -> None:
    """Make concurrent reservations of one target run one after the other (SQLite already
    runs one writing statement at a time)."""
    if conn.dialect.name == "postgresql":
        objid = int.from_bytes(bytes.fromhex(target[:8]), "big", signed=True)
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:c, :o)"), {"c": _PG_LOCK_CLASS, "o": objid}
        )


async def clear_failures(conn: AsyncConnection, tenant_id: str) -> int:
    """Forget every sign-in failure of the tenant, in the caller's transaction."""
    result = await conn.execute(
        delete(sentinel_activities).where(
            sentinel_activities.c.tenant_id == tenant_id,
            sentinel_activities.c.action == SIGN_IN,
        )
    )
    return int(result.rowcount)
