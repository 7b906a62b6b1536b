"""The one way to get a database: an async engine for SQLite (embedded) or PostgreSQL.

SQLite runs in WAL mode with a busy timeout so that several worker processes can share the
file; PostgreSQL goes through asyncpg. Migrations (Alembic) run under a lock so that several
processes or machines starting together migrate once.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from portico.storage import sqlite_driver  # noqa: F401  (registers sqlite+portico)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Fail fast when PostgreSQL is unreachable (a request answers 503 in seconds, not minutes):
# connecting, waiting for a pooled connection, and any one statement are bounded.
CONNECT_TIMEOUT = 3.0
POOL_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 30.0
# Connections kept open per process. Under more concurrent requests than this, the pool opens
# extra connections and closes them on return; on SQLite each is a thread, a file handle and
# the pragmas, on PostgreSQL a TCP + authentication handshake, and profiling showed that churn
# costing more than the queries themselves at 8 concurrent requests with the old sizes (5, 10).
SQLITE_POOL_SIZE = 32
PG_POOL_SIZE = 20
# Any constant will do; it only has to be the same in every Portico process.
_PG_MIGRATION_LOCK = 0x706F7274


def now_ms() -> int:
    return int(time.time() * 1000)


def async_url(url: str) -> str:
    """Map the user-facing URL to the async driver SQLAlchemy should use."""
    if url.startswith("sqlite:"):
        return "sqlite+portico:" + url[len("sqlite:") :]
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def create_engine(url: str, *, pool: bool = True) -> AsyncEngine:
    """Create the engine; ``pool=False`` for short-lived tools and tests that switch loops."""
    driver_url = async_url(url)
    # Parameters (token digests, hashes) never go into exception messages or logs.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if not pool:
        kwargs["poolclass"] = NullPool
    elif driver_url.startswith("postgresql"):
        kwargs.update(
            pool_size=PG_POOL_SIZE,
            max_overflow=10,
            pool_pre_ping=False,
            pool_timeout=POOL_TIMEOUT,
            connect_args={
                "timeout": CONNECT_TIMEOUT,
                "command_timeout": STATEMENT_TIMEOUT,
                # PostgreSQL's default (4) prices random reads for spinning disks and then
                # prefers reading all users to the trigram indexes for a search (171 ms vs
                # 18 ms at 100k users); 1.1 is the usual value for SSDs and for data in RAM.
                "server_settings": {"random_page_cost": "1.1"},
            },
        )
    else:
        kwargs.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
    if driver_url.startswith("sqlite"):
        _ensure_sqlite_directory(driver_url)
    engine = create_async_engine(driver_url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "savepoint", _sqlite_begin_before_savepoint)
    return engine


def _sqlite_begin_before_savepoint(conn: Any, _name: str) -> None:
    """Make a SAVEPOINT nest inside the caller's transaction on SQLite.

    The sqlite3 driver opens its transaction lazily, before the first INSERT/UPDATE/DELETE,
    and never before a SAVEPOINT. A SAVEPOINT issued first would start the transaction
    itself, and releasing it would COMMIT: a later failure in the same ``begin()`` block
    could no longer roll back what the savepoint covered (a user created, then its
    identity refused). Opening the transaction here keeps one block all-or-nothing.
    """
    raw = conn.connection.dbapi_connection
    driver = getattr(raw, "_connection", raw)  # aiosqlite's adapter wraps the connection
    if not getattr(driver, "in_transaction", True):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _ensure_sqlite_directory(driver_url: str) -> None:
    path = driver_url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    sqlite_pragmas(dbapi_connection)


def sqlite_pragmas(dbapi_connection: Any) -> None:
    """The settings of every SQLite connection Portico opens: the pool's, and the hot path's
    own (storage/hot_path.py), which once lacked ``synchronous=NORMAL`` and so waited for an
    fsync on every write."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # No busy wait on the event loop: a busy statement is retried on the connection's thread
    # with the wait on (sqlite_driver.py).
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


async def refresh_statistics(engine: AsyncEngine) -> None:
    """Give SQLite's query planner fresh table statistics (PostgreSQL's autovacuum does this
    by itself). Without them SQLite guesses that ``tenant_id = ?`` is selective and, for a user
    search, reads every user of the tenant instead of the few the trigram index found (64 ms
    instead of 3 at 100k users, bench/scale.py). ``analysis_limit`` bounds the work to a
    sample of each index, so this takes milliseconds at any size; the purge task runs it."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.begin() as conn:
        await conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        await conn.exec_driver_sql("ANALYZE")


async def settle_bulk_load(engine: AsyncEngine, table: str) -> None:
    """After a bulk insert into ``table``, what the planner and the indexes need before the
    first query rather than minutes later. SQLite: fresh statistics. PostgreSQL: ``VACUUM
    (ANALYZE)``, the work autovacuum would do a while later: statistics, and pages marked
    all-visible so that counts read an index alone (the unfiltered user count at a million
    users: 50 ms instead of 69, bench/scale.py)."""
    if engine.dialect.name != "postgresql":
        await refresh_statistics(engine)
        return
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql(f'VACUUM (ANALYZE) "{table}"')


def head_revision() -> str:
    """The newest migration's revision id. Revisions are named by their file's four-digit
    prefix (``0005_user_search.py`` is revision ``0005``, each revising the one before), so
    the head is readable without loading Alembic."""
    numbers = [
        int(path.name[:4])
        for path in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    ]
    return f"{max(numbers):04d}"


async def _current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        try:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        except exc.DBAPIError:  # a new database: no table yet
            return None
    return row[0] if row else None


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (``portico db upgrade`` and every start).

    A database already at the head is recognised with one query, without importing Alembic:
    every process start (and every worker's) comes here, and Alembic's import and script
    scan were a third of the start-up time and a few MB of every process's memory."""
    if await _current_revision(engine) == head_revision():
        return
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            await conn.commit()
        try:
            await conn.run_sync(_run_alembic_upgrade)
            await conn.commit()
        finally:
            if engine.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                await conn.commit()


def _run_alembic_upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def insert_ignore(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows, skipping any whose key already exists (idempotent seeding under races)."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(dialect.insert(table).values(rows).on_conflict_do_nothing())


def unavailable_candidates(url: str) -> tuple[type[Exception], ...]:
    """Exception classes that may mean "database unavailable" for the database at ``url``;
    :func:`is_unavailable` decides. asyncpg's only on PostgreSQL: a SQLite server never
    imports asyncpg (a few MB of every process)."""
    candidates: tuple[type[Exception], ...] = (exc.DBAPIError, exc.TimeoutError, OSError)
    if async_url(url).startswith("postgresql"):
        import asyncpg

        candidates += (asyncpg.PostgresError, asyncpg.InterfaceError)
    return candidates


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached or used right now (down,
    restarting, connection cut, pool exhausted, locked), as opposed to a bug in a query:
    the request may be retried and should be answered 503."""
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, exc.OperationalError | exc.InterfaceError
        )
    if isinstance(error, exc.TimeoutError | OSError):
        return True  # waiting for a pooled connection; refused, reset, unreachable, timeout
    asyncpg = sys.modules.get("asyncpg")  # raised by asyncpg only once it is imported
    return asyncpg is not None and isinstance(
        error,
        asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        # class 57: the server shutting down or ending the session (its own connection
        # cut by an administrator, a failover), or not yet accepting connections
        | asyncpg.exceptions.OperatorInterventionError,
    )
