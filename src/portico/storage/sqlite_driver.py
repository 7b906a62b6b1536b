"""SQLAlchemy's aiosqlite dialect, with statements run where they cost least.

SQLite is a library, not a server: an indexed read or a one-row write in WAL mode takes
microseconds of C. aiosqlite runs every call on a thread of its own and hands the result back
to the event loop; each hand-off is a queue put, a thread wake-up, a self-pipe write and two
GIL hand-offs, and profiling (bench/cpu_profile.py, ``py-spy --gil`` under wrk) showed those
hand-offs costing far more than the statements: userinfo spent 1.5 ms of CPU per request, of
which the two reads behind it were a few µs. So here:

- **a statement runs on the event-loop thread**, rows included (commits and rollbacks too),
  with SQLite's busy wait turned off (``busy_timeout=0`` on every connection), so it can never
  sleep while holding the loop;
- **when SQLite says busy** (another process holds the write lock, or a WAL reset is under
  way), that one statement is sent to the connection's aiosqlite thread and waits there with
  the usual busy timeout (:data:`WRITE_WAIT_SECONDS`). A statement refused with
  ``SQLITE_BUSY`` had no effect, so running it again is safe;
- **long work runs in the thread** from the start: inside :func:`threaded` (the Management
  API, the console, the purge task: searches over a million users, page counts, batched
  deletes), statements go to the thread as before, so the loop keeps serving tokens while
  SQLite works (sqlite3 releases the GIL while it steps).

Rollbacks of connections that never opened a transaction (the pool rolls back every
connection it takes back) are skipped.

Everything else (types, pool, transactions, the SAVEPOINT rule in ``database.py``) is
SQLAlchemy's dialect unchanged. ``aiosqlite.Connection._execute`` is the library's own way of
running a function on its thread; its range is pinned in pyproject.toml and the whole suite
runs through this driver.

Writers in one process also queue on an asyncio lock (per engine and event loop) taken at a
transaction's first write and released at its end. SQLite lets one writer at a time; without
the lock, concurrent writers of one process would meet SQLite's busy handler, which sleeps in
steps of up to 100 ms: at 8 concurrent refresh-token requests that sleeping, not work, set
the pace (p99 above one second). Waiting on the lock wakes the next writer the moment the
previous one commits. Writers in other processes still meet the busy handler (in the
thread). The lock is given up after :data:`WRITE_WAIT_SECONDS` with SQLite's own "database is
locked" error, so nothing can wait forever.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

NAME = "sqlite.portico"
WRITE_WAIT_SECONDS = 10.0  # the busy timeout of a statement sent to the thread
_READS = ("SELECT", "PRAGMA")
_BUSY_WAIT = f"PRAGMA busy_timeout={int(WRITE_WAIT_SECONDS * 1000)}"
_NO_BUSY_WAIT = "PRAGMA busy_timeout=0"
_THREADED: ContextVar[bool] = ContextVar("portico_sqlite_threaded", default=False)
T = TypeVar("T")


@contextmanager
def threaded() -> Iterator[None]:
    """Run this block's SQLite statements on the connections' threads, not the event loop:
    for work that may take milliseconds (searches, counts over big tables, batched deletes),
    so that the loop goes on serving other requests meanwhile."""
    token = _THREADED.set(True)
    try:
        yield
    finally:
        _THREADED.reset(token)


def _is_busy(error: BaseException) -> bool:
    return (
        isinstance(error, sqlite3.OperationalError)
        and (getattr(error, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY
    )


async def _now(fn: Callable[[], T]) -> T:
    """Run ``fn`` on the event loop's thread (an awaitable, as SQLAlchemy's adapter needs)."""
    return fn()


def _waiting(conn: sqlite3.Connection, fn: Callable[[], T]) -> T:
    """On the connection's thread: ``fn`` with SQLite's busy wait on."""
    conn.execute(_BUSY_WAIT)
    try:
        return fn()
    finally:
        conn.execute(_NO_BUSY_WAIT)


def _is_read(operation: str) -> bool:
    return operation.lstrip()[:6].upper() in _READS


def _run(
    conn: sqlite3.Connection, operation: str, parameters: Any
) -> tuple[Any, list[Any] | None, int | None, int]:
    """The whole statement, rows included, in one call (on the loop or the thread)."""
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


class LoopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        if not _is_read(operation):
            self._adapt_connection.enter_write()
        try:
            description, rows, lastrowid, rowcount = self._adapt_connection.run(
                lambda conn: _run(conn, operation, parameters)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description = description
        if rows is not None:
            self._rows = deque(rows)
        self.lastrowid, self.rowcount = lastrowid, rowcount

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._adapt_connection.enter_write()
        try:
            lastrowid, rowcount = self._adapt_connection.run(
                lambda conn: _run_many(conn, operation, seq_of_parameters)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description = None
        self.lastrowid, self.rowcount = lastrowid, rowcount


class LoopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_writing",)
    dbapi: LoopDbapi

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._writing = False

    def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(sqlite3 connection)`` on the event loop, or on the connection's thread when
        SQLite is busy or the caller is inside :func:`threaded` (see the module docstring)."""
        aio = self._connection
        conn = aio._conn
        if not _THREADED.get():
            try:
                return self.await_(_now(lambda: fn(conn)))
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
        return self.await_(aio._execute(lambda: _waiting(conn, lambda: fn(conn))))

    def enter_write(self) -> None:
        """Take this process's write turn before the transaction's first write."""
        if self._writing:
            return
        lock = self.dbapi.write_lock()
        try:
            if lock.locked():
                self.await_(asyncio.wait_for(lock.acquire(), WRITE_WAIT_SECONDS))
            else:  # free: taken at once (wait_for would cost a task and a loop turn)
                self.await_(lock.acquire())
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        self._writing = True

    def _leave_write(self) -> None:
        if self._writing:
            self._writing = False
            self.dbapi.write_lock().release()

    def commit(self) -> None:
        try:
            self.run(lambda conn: conn.commit())
        except Exception as error:
            self._handle_exception(error)
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
        return LoopCursor(self)

    def rollback(self) -> None:
        # The pool rolls back every connection it takes back; most never began a
        # transaction (reads run in autocommit on sqlite3), so that hop is skipped.
        try:
            if self._connection._connection is None:
                super().rollback()  # aiosqlite's own "no active connection" error
            elif self._connection.in_transaction:
                self.run(lambda conn: conn.rollback())
        except Exception as error:
            self._handle_exception(error)
        finally:
            self._leave_write()


class LoopDbapi(AsyncAdapt_aiosqlite_dbapi):
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

    def connect(self, *arg: Any, **kw: Any) -> LoopConnection:
        adapted = super().connect(*arg, **kw)
        return LoopConnection(self, adapted._connection)


class Dialect(SQLiteDialect_aiosqlite):
    driver = "portico"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> LoopDbapi:  # type: ignore[override]
        return LoopDbapi(__import__("aiosqlite"), sqlite3)


registry.register(NAME, __name__, "Dialect")
