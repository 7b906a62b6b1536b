"""Purging expired data: what expires when, run once (``portico purge``) or periodically in
every server process.

Every process runs the same task; the deletes are batched and lock-skipping
(``storage/purge.py``), so N processes purging together cost no more than one and never block
sign-ins. Each process waits a random part of the interval before its first run, so a fleet
started together does not purge in lock-step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from portico.storage import purge as sql
from portico.storage.database import now_ms, refresh_statistics
from portico.storage.sqlite_driver import threaded

log = logging.getLogger("portico.purge")

# A verification code is kept for an hour after it expires (the longest an interaction lives),
# so that a late attempt is told "code expired" rather than "no code was sent".
PASSCODE_GRACE_MS = 3600 * 1000
# Sentinel events are counted over at most 24 hours (the longest lockout window the sign-in
# experience accepts); keeping them twice as long leaves every window intact.
SENTINEL_RETENTION_MS = 48 * 3600 * 1000
DAY_MS = 86400 * 1000


@dataclass(frozen=True)
class PurgeReport:
    """Rows deleted by one run, per kind."""

    artifacts: int
    passcodes: int
    sentinel_activities: int
    logs: int = 0

    @property
    def total(self) -> int:
        return self.artifacts + self.passcodes + self.sentinel_activities + self.logs

    def as_dict(self) -> dict[str, int]:
        return {
            "oidcModelInstances": self.artifacts,
            "passcodes": self.passcodes,
            "sentinelActivities": self.sentinel_activities,
            "logs": self.logs,
        }


async def purge_expired(
    engine: AsyncEngine,
    *,
    now: int | None = None,
    batch: int = sql.DEFAULT_BATCH,
    log_retention_days: int = 0,
) -> PurgeReport:
    """Delete expired codes, tokens, grants, sessions, interactions, verification codes,
    old sentinel events and, when ``log_retention_days`` > 0, audit-log entries older than
    that. Safe to run concurrently from any number of processes."""
    now = now_ms() if now is None else now
    old_logs = 0
    if log_retention_days > 0:
        old_logs = await sql.delete_expired(
            engine, sql.AUDIT_LOGS, now - log_retention_days * DAY_MS, batch
        )
    return PurgeReport(
        artifacts=await sql.delete_expired(engine, sql.ARTIFACTS, now, batch),
        passcodes=await sql.delete_expired(engine, sql.PASSCODES, now - PASSCODE_GRACE_MS, batch),
        sentinel_activities=await sql.delete_expired(
            engine, sql.SENTINEL, now - SENTINEL_RETENTION_MS, batch
        ),
        logs=old_logs,
    )


class PurgeTask:
    """The per-process background purge: started in the app's lifespan, stopped with it."""

    def __init__(self, engine: AsyncEngine, interval: float, log_retention_days: int = 0) -> None:
        self._engine = engine
        self._interval = interval
        self._log_retention_days = log_retention_days
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="portico-purge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(random.uniform(0, self._interval))  # noqa: S311 (jitter, not a secret)
        while True:
            try:
                with threaded():  # batched deletes and ANALYZE: beside the loop on SQLite
                    report = await purge_expired(
                        self._engine, log_retention_days=self._log_retention_days
                    )
                    if report.total:
                        log.info("purged expired rows: %s", report.as_dict())
                    await refresh_statistics(self._engine)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database may be away; try again next time
                log.warning("purging expired rows failed: %s", type(error).__name__)
            await asyncio.sleep(self._interval)
