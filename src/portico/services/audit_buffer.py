"""Audit entries of the token endpoint, written in batches off the request path.

The token endpoint is the hottest write path Portico has: every client-credentials token is
one entry and otherwise no write at all. Writing each entry in its own transaction (pool
checkout, INSERT, COMMIT) cost about as much as issuing the token, so each process keeps the
entries it accepted in memory and one background task writes them in one transaction
(``storage/logs.write_batch``) every :data:`INTERVAL` seconds, or as soon as :data:`BATCH`
are waiting.

What that trades, on purpose:
- An entry reaches the database within ~0.1 s, not before the response. A process killed
  with ``kill -9`` loses at most that window; a normal stop writes everything first
  (:meth:`AuditBuffer.stop`). Entries that describe a change (sign-in pages, Management API
  writes) still commit in the same transaction as the change (``audit.record``).
- While the database is unreachable the entries wait (up to :data:`CAPACITY`, then the oldest
  are dropped and the number dropped is logged), and the token endpoint keeps answering
  from its caches instead of failing because its log could not be written.
- Reading the log through this process (``GET /api/logs``) first writes what it holds, so a
  client that just exchanged a token sees its entry.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.storage import logs as repo
from portico.storage.database import is_unavailable

log = logging.getLogger("portico.audit")

# Not the rows' fault: the database is away, or its schema is not there yet (SQLite says
# OperationalError for a missing table, PostgreSQL ProgrammingError). Keep the entries and
# try again later; only data errors (a value that cannot be stored) are a row's own.
_NOT_THE_ROWS_FAULT = (
    exc.OperationalError,
    exc.ProgrammingError,
    exc.InterfaceError,
    OSError,
    TimeoutError,
)


def not_the_rows_fault(error: Exception) -> bool:
    """The batch may be written later: the database is away (or was lost mid-write: the
    batch is written again, entries already stored are skipped)."""
    return isinstance(error, _NOT_THE_ROWS_FAULT) or is_unavailable(error)


INTERVAL = 0.1
BATCH = 500
CAPACITY = 50_000


class AuditBuffer:
    def __init__(
        self, engine: AsyncEngine, *, interval: float = INTERVAL, capacity: int = CAPACITY
    ) -> None:
        self._engine = engine
        self._interval = interval
        self._capacity = capacity
        self._rows: collections.deque[dict[str, Any]] = collections.deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.dropped = 0

    def add(self, row: dict[str, Any]) -> None:
        """Accept one entry (built by ``audit.entry``); never blocks, never fails."""
        if len(self._rows) >= self._capacity:
            self._rows.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("audit log unwritable: %d entries dropped so far", self.dropped)
        self._rows.append(row)
        if len(self._rows) >= BATCH:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._rows)

    async def flush(self) -> None:
        """Write every entry accepted so far. When the database cannot be reached they stay
        queued and this raises; an entry the database refuses by itself (a value it cannot
        store) is dropped and counted, so that one bad row never holds back the others."""
        async with self._lock:
            while self._rows:
                batch = [self._rows.popleft() for _ in range(min(BATCH, len(self._rows)))]
                try:
                    await repo.write_batch(self._engine, batch)
                except asyncio.CancelledError:
                    self._rows.extendleft(reversed(batch))
                    raise
                except Exception as error:
                    if not_the_rows_fault(error):
                        self._rows.extendleft(reversed(batch))
                        raise
                    await self._insert_one_by_one(batch)

    async def _insert_one_by_one(self, batch: list[dict[str, Any]]) -> None:
        for index, row in enumerate(batch):
            try:
                await repo.write_batch(self._engine, [row])
            except Exception as error:
                if not_the_rows_fault(error):
                    self._rows.extendleft(reversed(batch[index:]))
                    raise
                self.dropped += 1
                log.error("audit entry %s refused by the database (%s): dropped",
                          row.get("key"), type(error).__name__)  # fmt: skip

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="portico-audit-buffer")

    async def stop(self) -> None:
        """Let the writer finish the batch it is writing (never cancel it mid-write: a batch
        committed just before the cancellation would be queued again and written twice),
        then write what is left."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            with contextlib.suppress(Exception):
                await self._task
            self._task = None
            self._stopping = False
        try:
            await self.flush()
        except Exception:
            log.error("audit log: %d entries could not be written at shutdown", self.pending)

    async def _run(self) -> None:
        failing = False
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.flush()
            except Exception as error:  # the database is down: keep the rows, try again
                if not failing:
                    log.warning(
                        "audit log write failed (%s); %d entries kept for retry",
                        type(error).__name__,
                        self.pending,
                    )
                failing = True
                await asyncio.sleep(min(1.0, self._interval * 10))  # stop() waits this out
            else:
                if failing:
                    log.warning("audit log writes resumed")
                failing = False
