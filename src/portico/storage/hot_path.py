"""The request path's point reads and one-statement writes (and the token endpoint's
batched audit entries), without SQLAlchemy's per-statement cost.

Userinfo, introspection and the token grants look up a token by its digest and a user by
id, and store a token or mark a code used: indexed statements that take SQLite 10-40 µs.
Through SQLAlchemy's async engine each cost about 130 µs of Python more (execution context,
result objects, the greenlet bridge), and the pool checkout around it about 115 µs
(``bench/cpu_profile.py``; ``py-spy --gil`` under wrk): most of those endpoints' CPU.

SQLite (:class:`HotPath`): these statements run on one plain ``sqlite3`` connection per
thread, in autocommit mode, on the event loop (as every statement does there, see
``sqlite_driver.py``). Each statement is its own transaction, so it is all-or-nothing by
itself, and in WAL mode a read sees everything committed before it began, as the pooled
connections do. The busy wait is off: when another connection holds the write lock, or on
any error at all, the method returns ``None`` and the caller runs the same statement through
SQLAlchemy, which waits (on the connection's thread) or reports the error like every other
query. A refused statement had no effect, so nothing is done twice.

PostgreSQL (:class:`PgHotPath`): the same statements on asyncpg connections of their own
(13 µs of Python for a point read on an open connection, against 65 µs through SQLAlchemy
and 80 µs more for its checkout; each SQLAlchemy call also starts a greenlet, whose frame
stack is mapped and unmapped again: page faults on every one). A read that fails in any way
returns ``None`` and SQLAlchemy runs it and reports. A write is handed to SQLAlchemy only
when it surely had no effect: nothing was sent (no connection), or the server refused the
statement and the session lives on (an autocommit statement that fails is rolled back).
When the connection is lost after the statement was sent, the write may have committed;
running it again could do it twice (a code used twice reads as a replay), so the error is
raised and the request answered 503, as SQLAlchemy's own lost connection is. A write that
must run inside a lock (``serialised``: the lockout reserve takes an advisory lock in its
transaction) never takes this path. After any failure the hot path stands aside for a second,
so an unreachable database costs one failed attempt, not one per request. Statements
without a hot form run on :func:`autocommit` connections: SQLAlchemy otherwise wraps every
statement in BEGIN ... ROLLBACK (or COMMIT), two round trips more than the statement itself.

Values are converted with the table's own column types on both, so rows come back exactly
as SQLAlchemy returns them and values are stored as it stores them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, NullPool, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import JSON, TypeEngine

from portico.storage.database import CONNECT_TIMEOUT, STATEMENT_TIMEOUT, sqlite_pragmas
from portico.storage.pg_connections import ConnectionPool

log = logging.getLogger(__name__)

Converter = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    literals: dict[str, Any]
    binds: list[Converter]


class HotStatement:
    """A statement compiled once per database by SQLAlchemy (for reads, the very construct
    the SQLAlchemy path runs, so the two cannot drift apart). Values are bound by name;
    literals in the construct keep their compiled values."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}
        selected = getattr(statement, "selected_columns", None)
        # A raw row (sqlite3 tuple, asyncpg record: both iterate over their values).
        self.mapped = row_mapper(list(selected) if selected is not None else [])
        self.compiled("sqlite")  # a mistake in a construct shows at import

    def compiled(self, name: str) -> _Compiled:
        found = self._by_dialect.get(name)
        if found is None:
            found = self._by_dialect[name] = _compile(self.statement, name)
        return found

    def parameters(self, values: dict[str, Any], dialect: str = "sqlite") -> list[Any]:
        compiled = self.compiled(dialect)
        given = [values[n] if n in values else compiled.literals[n] for n in compiled.names]
        return [
            value if fn is None else fn(value)
            for fn, value in zip(compiled.binds, given, strict=True)
        ]


def _postgresql() -> Dialect:
    from sqlalchemy.dialects.postgresql import asyncpg  # imported on PostgreSQL only

    return asyncpg.dialect()  # $n placeholders, one per distinct name


_DIALECTS: dict[str, Callable[[], Dialect]] = {"sqlite": sqlite.dialect, "postgresql": _postgresql}


def _compile(statement: Executable, dialect: str) -> _Compiled:
    target = _DIALECTS[dialect]()
    compiled = statement.compile(dialect=target)
    names = tuple(compiled.positiontup or ())
    literals = {}
    for name, value in compiled.params.items():
        if value is not None:  # as SQLAlchemy sends it (a JSON path: '$."key"' on SQLite)
            process = compiled.binds[name].type._cached_bind_processor(target)
            literals[name] = value if process is None else process(value)
    return _Compiled(
        sql=compiled.string,
        names=names,
        literals=literals,
        binds=[_bind_converter(compiled.binds[name].type, dialect) for name in names],
    )


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
            sqlite_pragmas(conn)  # the pool's settings; the busy wait off: never sleep here
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    async def rows(
        self, statement: HotStatement, values: dict[str, Any]
    ) -> list[dict[str, Any]] | None:
        """The rows of a SELECT, or None: read through SQLAlchemy instead."""
        sql = statement.compiled("sqlite").sql
        try:
            cursor = self._connection().execute(sql, statement.parameters(values))
            return [statement.mapped(row) for row in cursor.fetchall()]
        except sqlite3.Error:
            return None

    async def write(
        self, statement: HotStatement, values: dict[str, Any], *, serialised: bool = False
    ) -> int | None:
        """Run an INSERT, UPDATE or DELETE as its own transaction: the rows it changed, or
        None: nothing was written, run it through SQLAlchemy instead. ``serialised``: the
        statement must not run beside another one like it (SQLite runs one writer at a
        time: always so here)."""
        sql = statement.compiled("sqlite").sql
        try:
            return self._connection().execute(sql, statement.parameters(values)).rowcount
        except sqlite3.Error:
            return None

    async def write_many(
        self, statement: HotStatement, rows: Sequence[dict[str, Any]]
    ) -> int | None:
        """Run an INSERT once per row, all in one transaction: how many ran, or None:
        nothing was written, run them through SQLAlchemy instead."""
        sql = statement.compiled("sqlite").sql
        parameters = [statement.parameters(row) for row in rows]  # before anything begins
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")  # the write lock now, or SQLITE_BUSY: no wait
        except sqlite3.Error:
            return None
        try:
            conn.executemany(sql, parameters)
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.rollback()
            return None
        return len(rows)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


# Connections per process for the hot path, beside SQLAlchemy's pool: each statement holds
# one for a round trip, so a few serve many concurrent requests.
PG_HOT_POOL_SIZE = 8
# After a failure the hot path steps aside for this long (SQLAlchemy reports the outage).
PG_HOT_PAUSE = 1.0
# SQLSTATE classes of errors that end the session (connection exception, operator
# intervention): the statement may have committed before the error.
_SESSION_ENDED = ("08", "57")
# How these connections show in pg_stat_activity.
PG_HOT_APPLICATION_NAME = "portico-hot-path"


def _session_ended(conn: Any, error: Any) -> bool:
    """Whether the server ended the session with ``error`` (then the statement may have
    committed before it) rather than refusing the statement and carrying on."""
    return conn.is_closed() or (error.sqlstate or "08")[:2] in _SESSION_ENDED


class PgHotPath:
    """Point reads and one-statement writes on PostgreSQL through asyncpg connections of
    this process's own."""

    def __init__(self, engine: AsyncEngine) -> None:
        connect = dict(engine.dialect.create_connect_args(engine.url)[1])
        settings = dict(connect.pop("server_settings", None) or {})
        settings["application_name"] = PG_HOT_APPLICATION_NAME
        self._connect = {
            **connect,
            "server_settings": settings,
            "timeout": CONNECT_TIMEOUT,
            "command_timeout": STATEMENT_TIMEOUT,
        }
        self._pool: ConnectionPool | None = None
        self._paused_until = 0.0

    def _connections(self) -> ConnectionPool | None:
        """This loop's pool; None on another loop (connections are bound to their loop)."""
        loop = asyncio.get_running_loop()
        if self._pool is None:
            self._pool = ConnectionPool(self._connect, PG_HOT_POOL_SIZE)
        return self._pool if self._pool.loop is loop else None

    async def _acquire(self) -> tuple[ConnectionPool, Any] | None:
        if time.monotonic() < self._paused_until:
            return None
        pool = self._connections()
        if pool is None:
            return None
        try:
            # No timeout of its own for the wait (it costs a task per statement): a
            # connection is held for one statement, bounded by command_timeout, or being
            # opened, bounded by CONNECT_TIMEOUT.
            return pool, await pool.acquire()
        except Exception as error:  # nothing was sent
            self._step_aside(error)
            return None

    async def rows(
        self, statement: HotStatement, values: dict[str, Any]
    ) -> list[dict[str, Any]] | None:
        """The rows of a SELECT, or None: read through SQLAlchemy instead."""
        acquired = await self._acquire()
        if acquired is None:
            return None
        pool, conn = acquired
        compiled = statement.compiled("postgresql")
        try:
            records = await conn.fetch(compiled.sql, *statement.parameters(values, "postgresql"))
        except BaseException as error:
            pool.release(conn, reuse=False)
            if isinstance(error, Exception):  # any failure: SQLAlchemy runs it and reports
                self._step_aside(error)
                return None
            raise  # cancelled
        pool.release(conn)
        return [statement.mapped(record) for record in records]

    async def write(
        self, statement: HotStatement, values: dict[str, Any], *, serialised: bool = False
    ) -> int | None:
        """Run an INSERT, UPDATE or DELETE as its own transaction: the rows it changed, or
        None when it surely had no effect: run it through SQLAlchemy instead. Raises when it
        may have had one (the connection lost once it was sent). ``serialised``: never here
        (the caller serialises in a transaction of its own)."""
        if serialised:
            return None
        parameters = statement.parameters(values, "postgresql")
        sent, status = await self._send(statement, lambda conn, sql: conn.execute(sql, *parameters))
        return int(status.rsplit(" ", 1)[-1]) if sent else None  # "INSERT 0 1", "UPDATE 1"

    async def write_many(
        self, statement: HotStatement, rows: Sequence[dict[str, Any]]
    ) -> int | None:
        """Run an INSERT once per row, all or none (asyncpg's ``executemany`` is one
        transaction): how many ran, or None as :meth:`write`, which it raises as too."""
        parameters = [statement.parameters(row, "postgresql") for row in rows]
        sent, _ = await self._send(statement, lambda conn, sql: conn.executemany(sql, parameters))
        return len(rows) if sent else None

    async def _send(
        self, statement: HotStatement, run: Callable[[Any, str], Awaitable[Any]]
    ) -> tuple[bool, Any]:
        """(True, what ``run`` returned), or (False, None) when the statement surely had no
        effect; raises when it may have had one."""
        sql = statement.compiled("postgresql").sql
        acquired = await self._acquire()
        if acquired is None:
            return False, None
        pool, conn = acquired
        from asyncpg import PostgresError  # loaded by now (a connection is open)

        try:
            result = await run(conn, sql)
        except BaseException as error:
            refused = isinstance(error, PostgresError) and not _session_ended(conn, error)
            pool.release(conn, reuse=False)
            if refused:  # rolled back, nothing written: SQLAlchemy runs it and reports
                self._step_aside(error)
                return False, None
            raise  # it may have committed: not to be run again blindly (a request: 503)
        pool.release(conn)
        return True, result

    def _step_aside(self, error: BaseException) -> None:
        self._paused_until = time.monotonic() + PG_HOT_PAUSE
        log.debug("hot statement refused (%s); SQLAlchemy runs it", type(error).__name__)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


_PATHS: weakref.WeakKeyDictionary[Any, HotPath | PgHotPath | None] = weakref.WeakKeyDictionary()


def for_engine(engine: AsyncEngine) -> HotPath | PgHotPath | None:
    """The hot path to ``engine``'s database: SQLite files (not ``:memory:``), and PostgreSQL
    engines that pool their connections (an unpooled engine is a command's or a test's,
    short-lived and free to change event loops)."""
    sync_engine = engine.sync_engine
    try:
        return _PATHS[sync_engine]
    except KeyError:
        pass
    hot: HotPath | PgHotPath | None = None
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        hot = HotPath(database)
    elif engine.dialect.name == "postgresql" and not isinstance(sync_engine.pool, NullPool):
        hot = PgHotPath(engine)
    if hot is not None:
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


async def all_rows(
    engine: AsyncEngine, statement: HotStatement, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows of a SELECT outside any transaction: on the hot path, else (none here, or
    it refused) the same statement on an autocommit connection."""
    hot = for_engine(engine)
    if hot is not None:
        rows = await hot.rows(statement, values)
        if rows is not None:
            return rows
    async with autocommit(engine).connect() as conn:
        result = await conn.execute(statement.statement, values)
        return [dict(row._mapping) for row in result]


async def first_row(
    engine: AsyncEngine, statement: HotStatement, values: dict[str, Any]
) -> dict[str, Any] | None:
    """The first row of :func:`all_rows` (a point read), or None."""
    rows = await all_rows(engine, statement, values)
    return rows[0] if rows else None


def row_mapper(columns: Sequence[Any]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """Map a raw row of a SELECT's ``columns`` to the dict SQLAlchemy returns (keyed by
    column name or label): JSON decoded (both drivers hand it over as text), booleans as
    ``bool``, the rest as stored."""
    pairs = [(column.name, _result_converter(column.type)) for column in columns]

    def mapped(row: Sequence[Any]) -> dict[str, Any]:
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


def _bind_converter(column_type: TypeEngine[Any], dialect: str) -> Converter:
    if isinstance(column_type, JSON):
        return json.dumps  # as SQLAlchemy's JSON type stores it, None as JSON null
    if isinstance(column_type, Boolean) and dialect == "sqlite":
        return lambda value: None if value is None else int(value)
    return None
