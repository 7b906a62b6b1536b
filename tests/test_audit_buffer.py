"""The token endpoint's batched audit writer (``services/audit_buffer.py``) against a real
database (SQLite, or PostgreSQL with ``PORTICO_TEST_DB=postgresql``): entries reach the
table within its interval, a stop writes what is left, an unwritable database keeps them
for the next try, and a full buffer drops the oldest and counts them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from portico.services import audit
from portico.services.audit_buffer import AuditBuffer
from portico.services.bootstrap import ensure_ready
from portico.storage import hot_path
from portico.storage import logs as logs_repo
from portico.storage.database import create_engine
from portico.storage.tables import logs
from tests.support import create_database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    url, drop = create_database(str(tmp_path))
    try:
        yield url
    finally:
        drop()


async def _migrate(url: str) -> None:
    engine = create_engine(url, pool=False)
    await ensure_ready(engine)
    await engine.dispose()


async def _stored_ids(url: str) -> list[str]:
    engine = create_engine(url, pool=False)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(logs.c.id).order_by(logs.c.created_at, logs.c.id))
            return [r.id for r in rows]
    finally:
        await engine.dispose()


def _entries(n: int) -> list[dict[str, object]]:
    return [
        audit.entry("default", "ExchangeTokenBy.ClientCredentials", applicationId=f"app{i}")
        for i in range(n)
    ]


def test_entries_reach_the_table_within_the_interval(database: str) -> None:
    async def run() -> tuple[list[str], list[str], float]:
        await _migrate(database)
        engine = create_engine(database)
        buffer = AuditBuffer(engine, interval=0.05)
        buffer.start()
        try:
            rows = _entries(700)  # more than one batch
            for row in rows:
                buffer.add(row)
            started = time.monotonic()
            while len(await _stored_ids(database)) < len(rows):
                assert time.monotonic() - started < 5, "entries not written in 5 s"
                await asyncio.sleep(0.02)
            return [str(r["id"]) for r in rows], await _stored_ids(database), buffer.pending
        finally:
            await buffer.stop()
            await engine.dispose()

    sent, stored, pending = asyncio.run(run())
    assert sorted(stored) == sorted(sent)
    assert pending == 0


def test_stop_writes_what_is_still_held(database: str) -> None:
    async def run() -> list[str]:
        await _migrate(database)
        engine = create_engine(database)
        buffer = AuditBuffer(engine, interval=3600)  # only the stop can write them
        buffer.start()
        for row in _entries(3):
            buffer.add(row)
        await asyncio.sleep(0.05)
        assert await _stored_ids(database) == []
        await buffer.stop()
        await engine.dispose()
        return await _stored_ids(database)

    assert len(asyncio.run(run())) == 3


def test_an_unwritable_database_keeps_the_entries_for_the_next_try(database: str) -> None:
    async def run() -> tuple[int, list[str], list[str]]:
        engine = create_engine(database)  # not migrated yet: there is no logs table
        buffer = AuditBuffer(engine, interval=3600)
        rows = _entries(4)
        for row in rows:
            buffer.add(row)
        with pytest.raises(Exception):  # noqa: B017 - the driver's own error type
            await buffer.flush()
        kept = buffer.pending
        await _migrate(database)
        await buffer.flush()
        await engine.dispose()
        return kept, [str(r["id"]) for r in rows], await _stored_ids(database)

    kept, sent, stored = asyncio.run(run())
    assert kept == 4
    assert sorted(stored) == sorted(sent)


def test_a_full_buffer_drops_the_oldest_and_counts_them(database: str) -> None:
    async def run() -> tuple[int, list[str], list[str]]:
        await _migrate(database)
        engine = create_engine(database)
        buffer = AuditBuffer(engine, interval=3600, capacity=3)
        rows = _entries(5)
        for row in rows:
            buffer.add(row)
        await buffer.flush()
        await engine.dispose()
        return buffer.dropped, [str(r["id"]) for r in rows], await _stored_ids(database)

    dropped, sent, stored = asyncio.run(run())
    assert dropped == 2
    assert sorted(stored) == sorted(sent[2:])


def test_a_row_the_database_refuses_is_dropped_alone(database: str) -> None:
    """One entry that cannot be stored (here a value JSON cannot encode) must not hold back
    the others, nor every later flush."""

    async def run() -> tuple[int, int, list[str], list[str]]:
        await _migrate(database)
        engine = create_engine(database)
        buffer = AuditBuffer(engine, interval=3600)
        good = _entries(3)
        bad = audit.entry("default", "ExchangeTokenBy.ClientCredentials", params={"x": object()})
        for row in (good[0], bad, good[1], good[2]):
            buffer.add(row)
        await buffer.flush()
        await engine.dispose()
        return (
            buffer.dropped,
            buffer.pending,
            [str(r["id"]) for r in good],
            await _stored_ids(database),
        )

    dropped, pending, sent, stored = asyncio.run(run())
    assert (dropped, pending) == (1, 0)
    assert sorted(stored) == sorted(sent)


def test_stopping_while_entries_keep_coming_writes_each_once(database: str) -> None:
    """stop() lets a batch being written finish: cancelling it after its commit queued the
    batch again, and the second write of every entry was refused as a duplicate."""

    async def run() -> tuple[list[str], list[str], int, int]:
        await _migrate(database)
        engine = create_engine(database)
        buffer = AuditBuffer(engine, interval=0.001)
        buffer.start()
        sent: list[str] = []
        for _ in range(20):
            for row in _entries(40):
                buffer.add(row)
                sent.append(str(row["id"]))
            await asyncio.sleep(0.002)
        await buffer.stop()
        await engine.dispose()
        return sent, await _stored_ids(database), buffer.dropped, buffer.pending

    sent, stored, dropped, pending = asyncio.run(run())
    assert sorted(stored) == sorted(sent)
    assert (dropped, pending) == (0, 0)


@pytest.mark.parametrize("hot", [True, False], ids=["hot-path", "sqlalchemy"])
def test_a_batch_written_twice_is_stored_once(
    database: str, hot: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose connection was lost after it was sent may have committed; the buffer
    then writes it again, so writing must skip what is already stored. On the hot path no
    statement goes through SQLAlchemy; without one (or when it refuses) SQLAlchemy writes."""
    if not hot:
        monkeypatch.setattr(hot_path, "for_engine", lambda engine: None)

    async def run() -> tuple[list[str], list[str], list[str]]:
        await _migrate(database)
        engine = create_engine(database)
        seen: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
        rows = _entries(30)
        try:
            await logs_repo.write_batch(engine, rows)
            await logs_repo.write_batch(engine, rows[10:] + _entries(1))
        finally:
            await engine.dispose()
        return [str(r["id"]) for r in rows], await _stored_ids(database), seen

    sent, stored, seen = asyncio.run(run())
    assert len(stored) == 31 and set(sent) <= set(stored)
    through_sqlalchemy = [s for s in seen if s.lstrip().upper().startswith("INSERT")]
    assert len(through_sqlalchemy) == (0 if hot else 2)
