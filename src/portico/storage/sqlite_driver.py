"""SQLAlchemy's aiosqlite dialect with one thread hop per statement instead of four.

aiosqlite runs every call on the connection's own thread and hands the result back to the
event loop. SQLAlchemy's adapter makes four such calls per statement (open a cursor, execute,
fetch all rows, close the cursor), plus one to roll back every connection returned to the
pool, even one that never opened a transaction. Each hop is a queue put, a thread wake-up and
two GIL hand-offs; profiling the token, userinfo and refresh endpoints (bench/cpu_profile.py
and ``py-spy --gil``) showed those hand-offs as the largest single cost on SQLite, more than
the ES384 signature. Here a statement is one function run on that thread (cursor, execute,
fetch, close), and a rollback with no transaction open is skipped.

Everything else (types, pool, transactions, the SAVEPOINT rule in ``database.py``) is
SQLAlchemy's dialect unchanged. ``aiosqlite.Connection._execute`` is the library's own way of
running a function on its thread; its range is pinned in pyproject.toml and the whole suite
runs through this driver.

Writers in one process also queue on an asyncio lock (per engine and event loop) taken at a
transaction's first write and released at its end. SQLite lets one writer at a time; without
the lock, concurrent writers of one process wait in SQLite's busy handler, which sleeps in
steps of up to 100 ms: at 8 concurrent refresh-token requests that sleeping, not work, set
the pace (p99 above one second). Waiting on the lock wakes the next writer the moment the
previous one commits. Writers in other processes still meet the busy handler, as before. The
lock is given up after ``busy_timeout`` (the same 10 s) with SQLite's own "database is
locked" error, so nothing can wait forever.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections import deque
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

NAME = "sqlite.portico"
WRITE_WAIT_SECONDS = 10.0  # = PRAGMA busy_timeout in database.py
_READS = ("SELECT", "PRAGMA")


def _is_read(operation: str) -> bool:
    return operation.lstrip()[:6].upper() in _READS


def _run(
    conn: sqlite3.Connection, operation: str, parameters: Any
) -> tuple[Any, list[Any] | None, int | None, int]:
    """On the connection's thread: the whole statement, rows included."""
    cursor = conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, None, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _run_many(conn: sqlite3.Connection, operation: str, rows: Any) -> tuple[int | None, int]:
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, rows)
        return cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        aio = self._connection
        if not _is_read(operation):
            self._adapt_connection.enter_write()
        try:
            description, rows, lastrowid, rowcount = self.await_(
                aio._execute(lambda: _run(aio._conn, operation, parameters))
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description = description
        if rows is not None:
            self._rows = deque(rows)
        self.lastrowid, self.rowcount = lastrowid, rowcount

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        aio = self._connection
        self._adapt_connection.enter_write()
        try:
            lastrowid, rowcount = self.await_(
                aio._execute(lambda: _run_many(aio._conn, operation, seq_of_parameters))
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description = None
        self.lastrowid, self.rowcount = lastrowid, rowcount


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_writing",)
    dbapi: OneHopDbapi

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._writing = False

    def enter_write(self) -> None:
        """Take this process's write turn before the transaction's first write."""
        if self._writing:
            return
        try:
            self.await_(asyncio.wait_for(self.dbapi.write_lock().acquire(), WRITE_WAIT_SECONDS))
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        self._writing = True

    def _leave_write(self) -> None:
        if self._writing:
            self._writing = False
            self.dbapi.write_lock().release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._leave_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave_write()

    def terminate(self) -> None:
        try:
            super().terminate()
        finally:
            self._leave_write()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:
            return super().cursor(server_side=True)
        return OneHopCursor(self)

    def rollback(self) -> None:
        # The pool rolls back every connection it takes back; most never began a
        # transaction (reads run in autocommit on sqlite3), so that hop is skipped.
        try:
            if self._connection._connection is None or self._connection.in_transaction:
                super().rollback()
        finally:
            self._leave_write()


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def write_lock(self) -> asyncio.Lock:
        """One per event loop: tools and tests run engines on several loops in turn."""
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


class Dialect(SQLiteDialect_aiosqlite):
    driver = "portico"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDbapi:  # type: ignore[override]
        return OneHopDbapi(__import__("aiosqlite"), sqlite3)


registry.register(NAME, __name__, "Dialect")
