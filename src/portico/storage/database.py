"""The one way to get a database: an async engine for SQLite (embedded) or PostgreSQL.

SQLite runs in WAL mode with a busy timeout so that several worker processes can share the
file; PostgreSQL goes through asyncpg. Migrations (Alembic) run under a lock so that several
processes or machines starting together migrate once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import asyncpg
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
            pool_size=10,
            max_overflow=10,
            pool_pre_ping=False,
            pool_timeout=POOL_TIMEOUT,
            connect_args={"timeout": CONNECT_TIMEOUT, "command_timeout": STATEMENT_TIMEOUT},
        )
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
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (``portico db upgrade`` and every start)."""
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


# Exception classes that may mean "database unavailable"; :func:`is_unavailable` decides.
UNAVAILABLE_CANDIDATES: tuple[type[Exception], ...] = (
    exc.DBAPIError,
    exc.TimeoutError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached or used right now (down,
    restarting, connection cut, pool exhausted, locked), as opposed to a bug in a query:
    the request may be retried and should be answered 503."""
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, exc.OperationalError | exc.InterfaceError
        )
    return isinstance(
        error,
        exc.TimeoutError  # waiting for a pooled connection
        | OSError  # refused, reset, unreachable; connect or statement timeout
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError,
    )
