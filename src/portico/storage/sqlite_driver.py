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
"""

from __future__ import annotations

import sqlite3
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


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        aio = self._connection
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


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:
            return super().cursor(server_side=True)
        return OneHopCursor(self)

    def rollback(self) -> None:
        # The pool rolls back every connection it takes back; most never began a
        # transaction (reads run in autocommit on sqlite3), so that hop is skipped.
        if self._connection._connection is not None and not self._connection.in_transaction:
            return
        super().rollback()


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
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
