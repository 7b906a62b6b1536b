"""Where SQLite statements run (storage/sqlite_driver.py) and the hot reads
(storage/hot_path.py): on the event loop by default, on the connection's thread inside
``threaded()`` or while another connection holds the write lock, and hot reads equal to
what SQLAlchemy returns. SQLite only: PostgreSQL has neither."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.services.bootstrap import DEFAULT_TENANT, ensure_ready
from portico.storage import hot_path
from portico.storage import users as users_repo
from portico.storage.artifacts import ArtifactStore
from portico.storage.database import create_engine
from portico.storage.sqlite_driver import threaded
from tests import support

pytestmark = pytest.mark.skipif(
    support.test_database_kind() == "postgresql", reason="where SQLite runs its statements"
)


Database = tuple[Path, AsyncEngine]


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh SQLite file and an engine on it, disposed afterwards."""
    path = tmp_path / "portico.db"
    engine = create_engine(f"sqlite:///{path}")
    yield path, engine
    await engine.dispose()


async def _thread_of_statement(engine) -> int:  # type: ignore[no-untyped-def]
    """The id of the thread that ran a statement: a SQL function reports it."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        raw.driver_connection._conn.create_function("thread_id", 0, threading.get_ident)
        return (await conn.execute(text("SELECT thread_id()"))).scalar_one()


async def test_statements_run_on_the_loop_unless_threaded(database: Database) -> None:
    _, engine = database
    assert await _thread_of_statement(engine) == threading.get_ident()
    with threaded():
        assert await _thread_of_statement(engine) != threading.get_ident()
    assert await _thread_of_statement(engine) == threading.get_ident()


async def test_a_busy_write_waits_beside_the_loop_then_succeeds(database: Database) -> None:
    path, engine = database
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
    other = sqlite3.connect(path, isolation_level=None)  # another process, in effect
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    other.execute("INSERT INTO t VALUES (1)")

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (2)"))

    beat = asyncio.create_task(ticker())
    writer = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writer.done()  # waiting for the lock...
    assert ticks >= 10  # ...while the loop went on running other tasks
    other.execute("COMMIT")
    await asyncio.wait_for(writer, 10)
    beat.cancel()
    other.close()
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all()
    assert rows == [1, 2]


async def test_hot_reads_return_what_sqlalchemy_returns(database: Database) -> None:
    _, engine = database
    await ensure_ready(engine)
    base = {
        "tenant_id": DEFAULT_TENANT,
        "password_encrypted": None,
        "password_encryption_method": None,
        "avatar": None,
        "last_sign_in_at": None,
        "created_at": 1,
        "updated_at": 2,
    }
    async with engine.begin() as conn:
        await users_repo.insert_user(
            conn,
            {
                **base,
                "id": "hotuser00001",
                "username": "hot",
                "primary_email": "hot@example.com",
                "primary_phone": None,
                "name": "Ümlaut Name",
                "profile": {"givenName": "Ü", "address": {"country": "KR"}},
                "identities": {"kakao": {"userId": "42", "details": {"n": [1, 2]}}},
                "custom_data": {"plan": None, "seats": 3, "flag": True},
                "is_suspended": True,
            },
        )
    for user_id in ("hotuser00001", "nobody000000"):
        async with engine.connect() as conn:
            expected = await users_repo.get_user(conn, DEFAULT_TENANT, user_id)
        assert await users_repo.read_user(engine, DEFAULT_TENANT, user_id) == expected
    got = await users_repo.read_user(engine, DEFAULT_TENANT, "hotuser00001")
    assert got is not None and got["is_suspended"] is True
    assert hot_path.for_engine(engine) is not None  # the hot path was the one taken

    store = ArtifactStore(engine, DEFAULT_TENANT)
    await store.save("AccessToken", "tok1", {"scope": "openid", "n": 1}, 60, grant_id="g1")
    found = await store.find("AccessToken", "tok1")
    async with engine.connect() as conn:
        via_connection = await store.find("AccessToken", "tok1", conn)
    assert found == via_connection
    assert found is not None and found.payload == {"scope": "openid", "n": 1}
    assert found.grant_id == "g1" and found.consumed_at is None
    assert await store.find("AccessToken", "missing") is None
    assert await store.find("RefreshToken", "tok1") is None
    kinds = await store.find_kinds(("RefreshToken", "AccessToken"), "tok1")
    assert [kind for kind, _ in kinds] == ["AccessToken"]


async def test_hot_reads_see_commits_and_fall_back_without_the_table(database: Database) -> None:
    _, engine = database
    store = ArtifactStore(engine, DEFAULT_TENANT)
    # No schema yet: the hot read fails, the SQLAlchemy path reports the error.
    with pytest.raises(Exception, match="no such table"):
        await store.find("AccessToken", "x")
    await ensure_ready(engine)
    assert await store.find("AccessToken", "x") is None
    await store.save("AccessToken", "x", {"v": 1}, 60)
    found = await store.find("AccessToken", "x")
    assert found is not None and found.payload == {"v": 1}
    await store.destroy("AccessToken", "x")
    assert await store.find("AccessToken", "x") is None


async def test_hot_writes_store_once_and_wait_out_a_busy_database(database: Database) -> None:
    path, engine = database
    await ensure_ready(engine)
    store = ArtifactStore(engine, DEFAULT_TENANT)
    await store.save("AuthorizationCode", "c1", {"v": [1, "ü"], "none": None}, 60, "g")
    async with engine.connect() as conn:
        stored = await store.find("AuthorizationCode", "c1", conn)
    assert stored is not None and stored.payload == {"v": [1, "ü"], "none": None}
    assert await store.consume("AuthorizationCode", "c1") is True
    assert await store.consume("AuthorizationCode", "c1") is False  # single use
    assert await store.consume("AuthorizationCode", "never") is False

    other = sqlite3.connect(path, isolation_level=None)  # holds the write lock a while
    other.execute("BEGIN IMMEDIATE")
    other.execute("DELETE FROM oidc_model_instances WHERE id = 'nothing'")
    save = asyncio.create_task(store.save("AccessToken", "t1", {"v": 1}, 60))
    await asyncio.sleep(0.2)
    assert not save.done()  # refused on the loop, now waiting on the thread
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(save, 10)
    async with engine.connect() as conn:
        count = (
            await conn.execute(text("SELECT count(*) FROM oidc_model_instances WHERE id='t1'"))
        ).scalar_one()
    assert count == 1  # written once: the refused hot write left nothing behind
