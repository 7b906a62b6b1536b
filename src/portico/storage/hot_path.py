"""The request path's point reads and one-statement writes on SQLite, without SQLAlchemy's
per-statement cost.

Userinfo, introspection and the token grants look up a token by its digest and a user by
id, and store a token or mark a code used: indexed statements that take SQLite 10-40 µs.
Through SQLAlchemy's async engine each cost about 130 µs of Python more (execution context,
result objects, the greenlet bridge), and the pool checkout around it about 115 µs
(``bench/cpu_profile.py``; ``py-spy --gil`` under wrk): most of those endpoints' CPU. So on
SQLite these statements run on one plain ``sqlite3`` connection per thread, in autocommit
mode, on the event loop (as every statement does there, see ``sqlite_driver.py``). Values
are converted with the table's own column types, so rows come back exactly as SQLAlchemy
returns them and values are stored as it stores them.

Each statement is its own transaction, so it is all-or-nothing by itself, and in WAL mode a
read sees everything committed before it began, as the pooled connections do. The busy wait
is off: when another connection holds the write lock, or on any error at all, the method
returns ``None`` and the caller runs the same statement through SQLAlchemy, which waits (on
the connection's thread) or reports the error like every other query. A refused statement
had no effect, so nothing is done twice. PostgreSQL has no hot path (:func:`for_engine`
returns ``None``); there one-statement work runs on :func:`autocommit` connections instead:
SQLAlchemy otherwise wraps every statement in BEGIN ... ROLLBACK (or COMMIT), two round trips
more than the statement itself (a quarter of userinfo's time on PostgreSQL, py-spy).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Boolean, Table, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import JSON, TypeEngine

Converter = Callable[[Any], Any] | None


class HotStatement:
    """A statement on one table compiled once to SQLite's SQL by SQLAlchemy (for reads, the
    very construct the SQLAlchemy path runs, so the two cannot drift apart). Values are
    bound by name; literals in the construct keep their compiled values."""

    def __init__(self, statement: Executable, table: Table) -> None:
        compiled = statement.compile(dialect=sqlite.dialect())
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ())
        self.literals = {k: v for k, v in compiled.params.items() if v is not None}
        self.binds = [_bind_converter(compiled.binds[name].type) for name in self.names]
        selected = getattr(statement, "selected_columns", None)
        names = [column.name for column in selected] if selected is not None else []
        self.mapped = row_mapper(table, names)

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        given = [values[n] if n in values else self.literals[n] for n in self.names]
        return [
            value if fn is None else fn(value) for fn, value in zip(self.binds, given, strict=True)
        ]


class HotPath:
    """Plain ``sqlite3`` connections to one database file, one per thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=0")  # never sleep on the event loop
            # As database.py's connections: without it every hot write (a token stored, a
            # code used) waited for an fsync of the WAL, ~0.5 ms each (bench/sign_in.py).
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def rows(self, statement: HotStatement, values: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The rows of a SELECT, or None: read through SQLAlchemy instead."""
        try:
            cursor = self._connection().execute(statement.sql, statement.parameters(values))
            return [statement.mapped(row) for row in cursor.fetchall()]
        except sqlite3.Error:
            return None

    def write(self, statement: HotStatement, values: dict[str, Any]) -> int | None:
        """Run an INSERT, UPDATE or DELETE as its own transaction: the rows it changed, or
        None: nothing was written, run it through SQLAlchemy instead."""
        try:
            return self._connection().execute(statement.sql, statement.parameters(values)).rowcount
        except sqlite3.Error:
            return None

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


_PATHS: weakref.WeakKeyDictionary[Any, HotPath | None] = weakref.WeakKeyDictionary()


def for_engine(engine: AsyncEngine) -> HotPath | None:
    """The hot path to ``engine``'s database: SQLite files only (not ``:memory:``)."""
    sync_engine = engine.sync_engine
    try:
        return _PATHS[sync_engine]
    except KeyError:
        pass
    hot = None
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        hot = HotPath(database)
        event.listen(sync_engine, "engine_disposed", lambda _engine: hot.close())
    _PATHS[sync_engine] = hot
    return hot


_AUTOCOMMIT: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` for reads and one-statement writes outside any transaction. On PostgreSQL
    its connections run each statement as its own transaction, without BEGIN and COMMIT or
    ROLLBACK round trips (a single statement is atomic by itself); asyncpg's adapter keeps
    the setting in Python, so switching costs no round trip either. On SQLite ``engine``
    itself (its driver never opens a transaction for a read)."""
    if engine.dialect.name != "postgresql":
        return engine
    made = _AUTOCOMMIT.get(engine)
    if made is None:
        made = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return made


@asynccontextmanager
async def connection_unless_hot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection | None]:
    """For a request that makes several point reads: ``None`` where they take the hot path
    (each on its own), else one autocommit connection for all of them (one checkout)."""
    if for_engine(engine) is not None:
        yield None
        return
    async with autocommit(engine).connect() as conn:
        yield conn


def row_mapper(table: Table, names: Sequence[str]) -> Callable[[tuple[Any, ...]], dict[str, Any]]:
    """Map a raw SQLite row of ``names`` (columns of ``table``) to the dict SQLAlchemy
    returns: JSON decoded, booleans as ``bool``, everything else as stored."""
    pairs = [(name, _result_converter(table.c[name].type)) for name in names]

    def mapped(row: tuple[Any, ...]) -> dict[str, Any]:
        return {
            name: value if fn is None or value is None else fn(value)
            for (name, fn), value in zip(pairs, row, strict=True)
        }

    return mapped


def _result_converter(column_type: TypeEngine[Any]) -> Converter:
    if isinstance(column_type, JSON):
        return lambda value: json.loads(value) if isinstance(value, str | bytes) else value
    if isinstance(column_type, Boolean):
        return bool
    return None


def _bind_converter(column_type: TypeEngine[Any]) -> Converter:
    if isinstance(column_type, JSON):
        return json.dumps  # as SQLAlchemy's JSON type stores it, None as JSON null
    if isinstance(column_type, Boolean):
        return lambda value: None if value is None else int(value)
    return None
