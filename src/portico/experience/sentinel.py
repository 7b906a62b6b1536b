"""Counting security events per target: failed sign-in attempts per account (lockout, ASVS
2.2.1: at most 100 per hour) and messages sent per recipient (mailbox flooding).

Targets are stored as keyed digests, never as addresses. Counting is done in the database,
the one source of truth every process shares (Redis is never asked: a counter there could be
lost with it, and a lost counter means unlimited attempts). Sign-in failures count against the
account (:func:`lockout_target`): its username, email and phone share one budget, or each
would give a fresh one. An identifier no account has is a target of its own and locks the
same way, so a lockout says nothing about whether an account exists.

A sign-in attempt is counted as a failure *before* it is checked (:meth:`Sentinel.reserve`),
in one statement that inserts only while the window holds fewer failures than the limit,
serialised per target (SQLite runs one writer at a time; PostgreSQL takes a transaction-level
advisory lock on the target). So parallel guesses, on any number of processes, can never get
more than the limit past the check. A correct attempt takes its reservation back.

A :class:`Backoff` makes the same statement also wait a growing delay after the newest
failure (throttling instead of locking): the console uses it per account *and* client
address, so that a stranger's guesses slow down the stranger, never lock out the owner.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
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
from portico.storage.database import now_ms
from portico.storage.tables import sentinel_activities

FAILED = "Failed"
SUCCESS = "Success"
SIGN_IN = "SignIn"
SEND_MESSAGE = "SendMessage"

# Logto's message rate limit: 10 sends per recipient in a rolling 10 minutes.
SEND_LIMIT = 10
SEND_WINDOW = 600
# PostgreSQL advisory locks (classid, objid): this class serialises reservations per target.
_PG_LOCK_CLASS = 0x73656E74


def lockout_target(kind: str, value: str, account_id: str | None) -> str:
    """What sign-in failures count against: the account when one has this identifier
    (``kind`` username/email/phone, ``value`` in its stored form), else the identifier."""
    return account_target(account_id) if account_id else f"{kind}:{value}"


def account_target(account_id: str) -> str:
    return f"account:{account_id}"


@dataclass(frozen=True)
class Locked:
    """The target is blocked until ``until`` (epoch ms)."""

    until: int

    def minutes_left(self, now: int | None = None) -> int:
        return max(1, -(-(self.until - (now or now_ms())) // 60_000))

    def seconds_left(self, now: int | None = None) -> int:
        return max(1, -(-(self.until - (now or now_ms())) // 1000))


@dataclass(frozen=True)
class Backoff:
    """After ``free`` failures in the window, each attempt waits ``first`` seconds after the
    newest failure, twice as long for each failure more, at most ``longest`` seconds."""

    free: int
    first: int
    longest: int

    def delays_ms(self) -> list[int]:
        """The wait after ``free``, ``free + 1``, ... failures, up to the first at ``longest``
        (every later count waits ``longest``)."""
        delays, delay = [], self.first
        while delay < self.longest:
            delays.append(delay * 1000)
            delay *= 2
        return [*delays, self.longest * 1000]

    def delay_ms(self, failures: int) -> int:
        if failures < self.free:
            return 0
        delays = self.delays_ms()
        return delays[min(failures - self.free, len(delays) - 1)]


def _failures_in_window() -> Any:
    """The target's failures in the window: ``n`` and the time of the ``newest`` (0: none)."""
    c = sentinel_activities.c
    return (
        select(func.count().label("n"), func.coalesce(func.max(c.created_at), 0).label("newest"))
        .where(
            c.tenant_id == bindparam("p_tenant"),
            c.target_type == "User",
            c.target_hash == bindparam("p_target"),
            c.action == SIGN_IN,
            c.action_result == FAILED,
            c.created_at > bindparam("p_since"),
        )
        .subquery("failures")
    )


@functools.cache
def _reserve_statement(backoff: Backoff | None = None) -> Any:
    """``INSERT … SELECT … WHERE (failures in the window) < max``: one failure recorded ahead
    of the check unless the window is full, in one statement (built once per backoff; see
    reserve). With a ``backoff``, also only once its delay after the newest failure has
    passed: the delay for each count is a ``CASE`` written out here, so both databases
    decide it in the same statement."""
    window = _failures_in_window()
    allowed = window.c.n < bindparam("p_max")
    if backoff is not None:
        delays = backoff.delays_ms()
        wait = case(
            *((window.c.n < backoff.free + i, delay) for i, delay in enumerate(delays[:-1], 1)),
            else_=delays[-1],
        )
        waited = window.c.newest <= bindparam("p_now") - wait
        allowed = and_(allowed, or_(window.c.n < backoff.free, waited))
    c = sentinel_activities.c
    values = {
        "tenant_id": bindparam("p_tenant", type_=c.tenant_id.type),
        "id": bindparam("p_id", type_=c.id.type),
        "target_type": literal("User", c.target_type.type),
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
    sentinel_activities.c.target_type == "User",
    sentinel_activities.c.target_hash == bindparam("p_target"),
    sentinel_activities.c.action == SIGN_IN,
)


async def clear_failures(conn: AsyncConnection, tenant_id: str) -> int:
    """Forget every sign-in failure of the tenant, in the caller's transaction (``portico
    admin reset-password``: whoever runs it at the server needs no counter against them)."""
    result = await conn.execute(
        delete(sentinel_activities).where(
            sentinel_activities.c.tenant_id == tenant_id,
            sentinel_activities.c.action == SIGN_IN,
        )
    )
    return int(result.rowcount)


class Sentinel:
    def __init__(self, engine: AsyncEngine, key: bytes) -> None:
        """``key``: the stable sentinel key (``services/cookie_keys.sentinel_key``), never a
        cookie key: targets keyed by a rotating key would reset every counter on rotation."""
        self._engine = engine
        self._key = key
        self._hot = hot_path.for_engine(engine)

    def _target(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    async def _record(
        self, tenant_id: str, kind: str, target: str, action: str, result: str
    ) -> None:
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
                    created_at=now_ms(),
                )
            )

    async def _events(
        self, tenant_id: str, kind: str, target: str, action: str, result: str, since: int
    ) -> tuple[int, int]:
        """How many matching events since ``since``, and the time of the newest."""
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

    # Lockout ------------------------------------------------------------------------------
    async def reserve(
        self,
        tenant_id: str,
        identifier: str,
        max_attempts: int,
        lockout_seconds: int,
        backoff: Backoff | None = None,
    ) -> str | Locked:
        """Record one failed attempt ahead of checking it, unless the target is locked; the
        id of the recorded event (give it to :meth:`release` when the attempt succeeds), or
        :class:`Locked` when the window already holds ``max_attempts`` failures (or, with a
        ``backoff``, its delay after the newest failure has not passed)."""
        target = self._target(identifier)
        event_id = standard_id()
        now = now_ms()
        since = now - lockout_seconds * 1000
        params = {
            "p_tenant": tenant_id, "p_id": event_id, "p_target": target, "p_now": now,
            "p_since": since, "p_max": max_attempts,
        }  # fmt: skip
        written = None
        if self._hot is not None and backoff is None:  # one writer at a time (SQLite)
            written = await self._hot.write(_HOT_RESERVE, params, serialised=True)
        if written is None:  # PostgreSQL, SQLite busy, a backoff: a transaction, serialised
            async with self._engine.begin() as conn:
                await self._serialise(conn, target)
                statement = _reserve_statement(backoff)
                written = (await conn.execute(statement, params)).rowcount
        if written == 1:
            return event_id
        count, newest = await self._events(tenant_id, "User", target, SIGN_IN, FAILED, since)
        if count >= max_attempts or backoff is None:
            return Locked(newest + lockout_seconds * 1000)
        return Locked(newest + backoff.delay_ms(count))

    async def release(self, event_id: str) -> None:
        """The reserved attempt succeeded: it is not a failure after all."""
        params = {"p_id": event_id}
        if self._hot is not None and await self._hot.write(_HOT_RELEASE, params) is not None:
            return
        async with hot_path.autocommit(self._engine).begin() as conn:  # one DELETE
            await conn.execute(_RELEASE, params)

    @staticmethod
    def _failures_of(tenant_id: str, target: str) -> tuple[Any, ...]:
        c = sentinel_activities.c
        return (
            c.tenant_id == tenant_id, c.target_type == "User", c.target_hash == target,
            c.action == SIGN_IN, c.action_result == FAILED,
        )  # fmt: skip

    @staticmethod
    async def _serialise(conn: AsyncConnection, target: str) -> None:
        """Make concurrent reservations of one target run one after the other (SQLite already
        runs one writing statement at a time)."""
        if conn.dialect.name == "postgresql":
            objid = int.from_bytes(bytes.fromhex(target[:8]), "big", signed=True)
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:c, :o)"), {"c": _PG_LOCK_CLASS, "o": objid}
            )

    async def failed(self, tenant_id: str, identifier: str) -> None:
        await self._record(tenant_id, "User", self._target(identifier), SIGN_IN, FAILED)

    async def succeeded(
        self, tenant_id: str, identifier: str, conn: AsyncConnection | None = None
    ) -> None:
        """A successful sign-in clears the account's failures (as Logto's sentinel does);
        ``conn``: in the caller's transaction."""
        params = {"p_tenant": tenant_id, "p_target": self._target(identifier)}
        if conn is not None:
            await conn.execute(_CLEAR, params)
            return
        async with self._engine.begin() as own:
            await own.execute(_CLEAR, params)

    # Message sends ------------------------------------------------------------------------
    async def allow_send(self, tenant_id: str, recipient: str) -> bool:
        """Count one send to ``recipient``; False once the window's limit is passed."""
        target = self._target(recipient)
        await self._record(tenant_id, "Recipient", target, SEND_MESSAGE, SUCCESS)
        since = now_ms() - SEND_WINDOW * 1000
        count, _ = await self._events(tenant_id, "Recipient", target, SEND_MESSAGE, SUCCESS, since)
        return count <= SEND_LIMIT
