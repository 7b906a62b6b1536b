"""Counting security events per target: failed sign-in attempts per account (lockout, ASVS
2.2.1: at most 100 per hour) and messages sent per recipient (mailbox flooding).

Targets are stored as keyed digests, never as addresses. Counting is done in the database
(each process sees the others' events) by inserting the event first and counting after, so
concurrent attempts are all counted. The identifier, not the account, is the target: unknown
identifiers lock the same way, so a lockout says nothing about whether an account exists.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.ids import standard_id
from portico.storage.database import now_ms
from portico.storage.tables import sentinel_activities

FAILED = "Failed"
SUCCESS = "Success"
SIGN_IN = "SignIn"
SEND_MESSAGE = "SendMessage"

# Logto's message rate limit: 10 sends per recipient in a rolling 10 minutes.
SEND_LIMIT = 10
SEND_WINDOW = 600


@dataclass(frozen=True)
class Locked:
    """The target is blocked until ``until`` (epoch ms)."""

    until: int

    def minutes_left(self, now: int | None = None) -> int:
        return max(1, -(-(self.until - (now or now_ms())) // 60_000))


class Sentinel:
    def __init__(self, engine: AsyncEngine, key: bytes) -> None:
        self._engine = engine
        self._key = key

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
    async def locked(
        self, tenant_id: str, identifier: str, max_attempts: int, lockout_seconds: int
    ) -> Locked | None:
        """Locked when the failures within the last ``lockout_seconds`` reach the limit;
        the lock ends ``lockout_seconds`` after the newest failure."""
        now = now_ms()
        since = now - lockout_seconds * 1000
        count, newest = await self._events(
            tenant_id, "User", self._target(identifier), SIGN_IN, FAILED, since
        )
        if count >= max_attempts:
            return Locked(newest + lockout_seconds * 1000)
        return None

    async def failed(self, tenant_id: str, identifier: str) -> None:
        await self._record(tenant_id, "User", self._target(identifier), SIGN_IN, FAILED)

    async def succeeded(self, tenant_id: str, identifier: str) -> None:
        """A successful sign-in clears the account's failures (as Logto's sentinel does)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(sentinel_activities).where(
                    sentinel_activities.c.tenant_id == tenant_id,
                    sentinel_activities.c.target_type == "User",
                    sentinel_activities.c.target_hash == self._target(identifier),
                    sentinel_activities.c.action == SIGN_IN,
                )
            )

    # Message sends ------------------------------------------------------------------------
    async def allow_send(self, tenant_id: str, recipient: str) -> bool:
        """Count one send to ``recipient``; False once the window's limit is passed."""
        target = self._target(recipient)
        await self._record(tenant_id, "Recipient", target, SEND_MESSAGE, SUCCESS)
        since = now_ms() - SEND_WINDOW * 1000
        count, _ = await self._events(tenant_id, "Recipient", target, SEND_MESSAGE, SUCCESS, since)
        return count <= SEND_LIMIT
