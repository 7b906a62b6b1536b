"""Delivering the outbox: a worker in every server process (started in the app's lifespan).

Each round leases due deliveries (``storage/webhooks.claim``: one statement, so two processes
never hold the same row; on PostgreSQL claims are also serialised by a transaction-scoped
advisory lock so the per-hook limit counts every process's leases), sends them, and records
each attempt in one transaction: the row's new state and Logto's ``TriggerHook.<event>`` audit
entry, which ``/api/hooks/:id/recent-logs`` and the execution stats read.

Failures that may pass (no connection, timeouts, 408/413/429/5xx) are retried after
``retry_base * 2^(n-1)`` seconds with ±20 % jitter (at most an hour), up to ``max_attempts``;
then, or at once for a refused target, a redirect or another 4xx, the delivery is given up
(``Failed``). A process that dies mid-delivery leaves a lease that runs out
(:data:`LEASE_MS`), and another round sends the delivery again: at least once, which the
receiver can detect through the ``idempotency-key`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.ids import standard_id
from portico.services import audit
from portico.services.errors import ServiceError
from portico.services.webhooks import DEADLINE, Attempt, HookSealer, send
from portico.storage import logs as log_repo
from portico.storage import webhooks as repo
from portico.storage.database import now_ms

log = logging.getLogger("portico.webhooks")

BATCH = 20  # deliveries leased per round
PER_HOOK = 4  # deliveries of one hook in flight at once, over all processes
LEASE_MS = int((DEADLINE + 45) * 1000)  # a round's sends end long before their lease does
MAX_DELAY = 3600.0  # seconds: the longest wait between two attempts
KEEP_FINISHED_MS = 7 * 86400 * 1000  # finished rows kept a week (attempts stay in the log)
_CLAIM_LOCK = 0x506F727469636F  # advisory lock id serialising claims on PostgreSQL


def backoff(attempts: int, base: float) -> float:
    """Seconds before attempt ``attempts + 1``."""
    delay = min(MAX_DELAY, base * 2.0 ** (attempts - 1))
    return float(delay * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not a secret)


class WebhookWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        sealer: HookSealer,
        *,
        poll_interval: float,
        retry_base: float,
        max_attempts: int,
    ) -> None:
        self._engine = engine
        self._sealer = sealer
        self._poll = poll_interval
        self._retry_base = retry_base
        self._max_attempts = max_attempts
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{standard_id()[:8]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_purge = 0

    def start(self) -> None:
        """Deliver in the background; a poll interval of 0 leaves this process out."""
        if self._poll > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="portico-webhooks")

    def wake(self) -> None:
        """Look at the outbox now (this process just committed deliveries)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delivered = await self.run_once()
                await self._purge()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database may be away; try again next round
                log.warning("webhook round failed: %s", type(error).__name__)
                delivered = 0
            if delivered < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)

    async def run_once(self) -> int:
        """One round: lease, send, record. The number of deliveries attempted."""
        async with self._engine.connect() as conn:
            if not await repo.any_due(conn, now_ms()):
                return 0
        async with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text(f"SELECT pg_advisory_xact_lock({_CLAIM_LOCK})"))
            rows = await repo.claim(conn, self.owner, now_ms(), LEASE_MS, BATCH, PER_HOOK)
            rows, extra = _per_hook(rows)
            await repo.unlease(conn, self.owner, [r["id"] for r in extra])
            hooks = await repo.hooks_by_id(conn, {r["hook_id"] for r in rows}) if rows else {}
        await asyncio.gather(*(self._deliver(row, hooks.get(row["hook_id"])) for row in rows))
        return len(rows)

    async def _deliver(self, row: dict[str, Any], hook: dict[str, Any] | None) -> None:
        if hook is None:
            return  # deleted since: its deliveries went with it
        if not hook["enabled"]:
            attempt = Attempt(error="The hook is disabled.")
        else:
            try:
                key = self._sealer.open(row["tenant_id"], hook["id"], hook["signing_key"])
            except ServiceError as error:
                attempt = Attempt(error=error.message)
            else:
                attempt = await send(hook["config"], row["payload"], key, row["id"])
        async with self._engine.begin() as conn:
            if await repo.finish(conn, row["id"], self.owner, self._outcome(row, attempt)):
                await _log_attempt(conn, row, attempt)

    def _outcome(self, row: dict[str, Any], attempt: Attempt) -> dict[str, Any]:
        now, attempts = now_ms(), row["attempts"] + 1
        values: dict[str, Any] = {
            "last_status": attempt.status,
            "last_duration_ms": attempt.duration_ms,
            "last_error": attempt.error,
            "updated_at": now,
        }
        if attempt.ok:
            return {**values, "status": repo.SUCCEEDED}
        if attempt.retryable and attempts < self._max_attempts:
            delay = backoff(attempts, self._retry_base)
            return {**values, "status": repo.PENDING, "next_attempt_at": now + int(delay * 1000)}
        return {**values, "status": repo.FAILED}

    async def _purge(self) -> None:
        now = now_ms()
        if now - self._last_purge < 3600_000:
            return
        self._last_purge = now
        async with self._engine.begin() as conn:
            await repo.purge_finished(conn, now - KEEP_FINISHED_MS)


def _per_hook(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """At most :data:`PER_HOOK` of a round's deliveries per hook; the rest go back."""
    kept: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    count: dict[str, int] = {}
    for row in rows:
        count[row["hook_id"]] = count.get(row["hook_id"], 0) + 1
        (kept if count[row["hook_id"]] <= PER_HOOK else extra).append(row)
    return kept, extra


async def _log_attempt(conn: AsyncConnection, row: dict[str, Any], attempt: Attempt) -> None:
    """Logto's ``TriggerHook.<event>`` entry: the request body and the endpoint's answer."""
    entry = audit.entry(
        row["tenant_id"],
        f"{repo.LOG_PREFIX}{row['event']}",
        result=audit.LogResult.SUCCESS if attempt.ok else audit.LogResult.ERROR,
        hookId=row["hook_id"],
        hookRequest={"body": row["payload"]},
        response={"statusCode": attempt.status, "body": attempt.body}
        if attempt.status is not None
        else None,
        deliveryId=row["id"],
        attempt=row["attempts"] + 1,
        durationMs=attempt.duration_ms,
    )
    if attempt.error:
        entry["payload"]["error"] = attempt.error  # Logto's entries hold the error as text
    await log_repo.insert_logs(conn, [entry])
