"""The hot path (storage/hot_path.py) on the suite's database, SQLite or PostgreSQL: rows
equal to what SQLAlchemy returns and values stored as it stores them, no SQLAlchemy
statement when it is taken, and on PostgreSQL SQLAlchemy answering when a hot statement is
refused, then the hot path again; a write cut off after it was sent is never run twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.experience.sentinel import Sentinel
from portico.services.bootstrap import DEFAULT_TENANT
from portico.storage import artifacts, hot_path
from portico.storage import users as users_repo
from portico.storage.artifacts import ArtifactStore
from portico.storage.database import create_engine, is_unavailable
from tests import support

# The tests run in the loop the fixtures run in: asyncpg connections belong to the loop that
# opened them.
pytestmark = pytest.mark.asyncio(loop_scope="session")
on_postgresql = pytest.mark.skipif(
    support.test_database_kind() != "postgresql", reason="PostgreSQL's hot connections"
)


class Statements:
    """The statements SQLAlchemy sends on ``engine`` while counting."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.seen: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.seen.append(statement)


USER = {
    "tenant_id": DEFAULT_TENANT,
    "id": "hotuser00001",
    "username": "Hot",
    "primary_email": "hot@example.com",
    "primary_phone": "821012345678",
    "password_encrypted": None,
    "password_encryption_method": None,
    "name": "Ümlaut Name",
    "avatar": None,
    "profile": {"givenName": "Ü", "address": {"country": "KR"}},
    "identities": {"kakao": {"userId": "42", "details": {"n": [1, 2]}}},
    "custom_data": {"plan": None, "seats": 3, "flag": True},
    "is_suspended": True,
    "logto_config": {"mfa": {"enabled": True}},
    "last_sign_in_at": None,
    "created_at": 1,
    "updated_at": 2,
}


async def test_hot_reads_equal_sqlalchemy_and_send_nothing_through_it(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await users_repo.insert_user(conn, USER)
    store = ArtifactStore(engine, DEFAULT_TENANT)
    payload = {"scope": "openid", "n": [1, "ü"], "accountId": USER["id"]}
    await store.save("AccessToken", "tok1", payload, 60, "g1")
    await store.save("AccessToken", "orphan", {**payload, "accountId": "nobody000000"}, 60)

    statements = Statements(engine)
    hot_user = await users_repo.read_user(engine, DEFAULT_TENANT, "hotuser00001")
    missing = await users_repo.read_user(engine, DEFAULT_TENANT, "nobody000000")
    by_email = await users_repo.read_by_identifier(engine, DEFAULT_TENANT, "HOT@example.com")
    by_phone = await users_repo.read_by_identifier(engine, DEFAULT_TENANT, "821012345678")
    by_username = await users_repo.read_by_identifier(engine, DEFAULT_TENANT, "Hot")
    wrong_case = await users_repo.read_by_identifier(engine, DEFAULT_TENANT, "hot")
    token = await store.find("AccessToken", "tok1")
    kinds = await store.find_kinds(("RefreshToken", "AccessToken"), "tok1")
    with_account = await store.find_with_account("AccessToken", "tok1")
    orphan = await store.find_with_account("AccessToken", "orphan")
    absent = await store.find_with_account("AccessToken", "nothing")
    assert statements.seen == []  # every read above took the hot path

    async with engine.connect() as conn:
        expected = await users_repo.get_user(conn, DEFAULT_TENANT, "hotuser00001")
        token_expected = await store.find("AccessToken", "tok1", conn)
    assert expected is not None and expected["is_suspended"] is True
    assert hot_user == expected == by_email == by_phone == by_username
    assert hot_user == USER
    assert missing is None and wrong_case is None  # usernames match exactly
    assert token == token_expected
    assert token is not None and token.payload == payload
    assert [kind for kind, _ in kinds] == ["AccessToken"]
    assert with_account == (token, USER)  # the token and its user in one read
    assert orphan[0] is not None and orphan[1] is None  # the user is gone
    assert absent == (None, None)

    # The same join through SQLAlchemy (what runs when the hot path refuses) agrees.
    joined = artifacts._HOT_FIND_WITH_ACCOUNT
    params = {"p_kind": "AccessToken", "p_id": "tok1", "p_tenant": DEFAULT_TENANT, "p_now": 0}
    async with engine.connect() as conn:
        via_sqlalchemy = (await conn.execute(joined.statement, params)).mappings().one()
    assert await hot_path.first_row(engine, joined, params) == dict(via_sqlalchemy)


async def test_hot_writes_store_what_sqlalchemy_would_and_send_nothing_through_it(
    engine: AsyncEngine,
) -> None:
    store = ArtifactStore(engine, DEFAULT_TENANT)
    statements = Statements(engine)
    await store.save("AuthorizationCode", "c1", {"v": 1, "s": "ü", "n": None}, 60, "g")
    assert await store.consume("AuthorizationCode", "c1") is True
    assert await store.consume("AuthorizationCode", "c1") is False  # single use
    assert await store.consume("AuthorizationCode", "absent") is False
    assert statements.seen == []  # all four took the hot path

    async with engine.connect() as conn:  # what SQLAlchemy reads back
        stored = await store.find("AuthorizationCode", "c1", conn)
    assert stored is not None
    assert stored.payload == {"v": 1, "s": "ü", "n": None}
    assert stored.grant_id == "g" and stored.consumed_at is not None


async def test_the_lockout_reserve_is_serialised_on_postgresql(engine: AsyncEngine) -> None:
    """The reserve counts failures and inserts in one statement, which is only safe where
    one runs at a time: on PostgreSQL it keeps its advisory-locked transaction."""
    sentinel = Sentinel(engine, b"k" * 32)
    statements = Statements(engine)
    reserved = await sentinel.reserve(DEFAULT_TENANT, "someone", 3, 60)
    assert isinstance(reserved, str)
    if engine.dialect.name == "postgresql":
        assert any("pg_advisory_xact_lock" in s for s in statements.seen)
    else:
        assert statements.seen == []
    statements.seen.clear()
    await sentinel.release(reserved)
    assert statements.seen == []  # one DELETE by id: hot on both


async def artifact_rows(engine: AsyncEngine, artifact_id: str) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT consumed_at FROM oidc_model_instances WHERE id = :id"),
            {"id": artifact_id},
        )
        return list(rows)


@on_postgresql
async def test_a_refused_hot_write_is_run_and_reported_by_sqlalchemy(engine: AsyncEngine) -> None:
    store = ArtifactStore(engine, DEFAULT_TENANT)
    await store.save("AccessToken", "dup", {"v": 1}, 60)
    statements = Statements(engine)
    with pytest.raises(IntegrityError):  # the server refused the hot INSERT; SQLAlchemy too
        await store.save("AccessToken", "dup", {"v": 2}, 60)
    assert [s.split()[0] for s in statements.seen] == ["INSERT"]
    assert len(await artifact_rows(engine, "dup")) == 1

    statements.seen.clear()
    await store.save("AccessToken", "next", {"v": 3}, 60)
    assert [s.split()[0] for s in statements.seen] == ["INSERT"]  # standing aside
    await asyncio.sleep(hot_path.PG_HOT_PAUSE + 0.1)
    statements.seen.clear()
    assert await store.consume("AccessToken", "next") is True
    assert statements.seen == []  # hot again


@on_postgresql
async def test_a_write_cut_off_after_it_was_sent_is_never_run_again(
    engine: AsyncEngine,
) -> None:
    """The hot connection dies while its UPDATE waits for a row lock: the write may have
    committed, for all the client can tell, so it is raised (503), not re-run."""
    store = ArtifactStore(engine, DEFAULT_TENANT)
    await store.save("AuthorizationCode", "held", {"v": 1}, 60)
    assert await hot_backends(engine)
    statements = Statements(engine)
    async with engine.connect() as holder:
        await holder.execute(
            text("SELECT 1 FROM oidc_model_instances WHERE id = 'held' FOR UPDATE")
        )
        consuming = asyncio.ensure_future(store.consume("AuthorizationCode", "held"))
        waiting: list[int] = []
        for _ in range(100):  # until the hot UPDATE waits for the lock
            await asyncio.sleep(0.05)
            waiting = await hot_backends(engine, waiting_for_lock=True)
            if waiting:
                break
        assert waiting, "the hot UPDATE never reached the database"
        async with engine.connect() as killer:
            await killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": waiting[0]})
        with pytest.raises(Exception) as raised:
            await consuming
        await holder.rollback()
    assert is_unavailable(raised.value)  # answered 503, as a lost SQLAlchemy connection is
    assert not any(s.startswith("UPDATE") for s in statements.seen)  # never run twice
    assert [row.consumed_at for row in await artifact_rows(engine, "held")] == [None]


@on_postgresql
async def test_unpooled_engines_have_no_hot_connections(database_url: str) -> None:
    unpooled = create_engine(database_url, pool=False)
    assert hot_path.for_engine(unpooled) is None
    await unpooled.dispose()


async def hot_backends(engine: AsyncEngine, *, waiting_for_lock: bool = False) -> list[int]:
    """The server pids of this database's hot-path connections (those waiting for a lock)."""
    lock = " AND wait_event_type = 'Lock'" if waiting_for_lock else ""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity"
                f" WHERE application_name = :name AND datname = current_database(){lock}"
            ),
            {"name": hot_path.PG_HOT_APPLICATION_NAME},
        )
        return [row.pid for row in rows]


async def rename_users(engine: AsyncEngine, old: str, new: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


@on_postgresql
async def test_a_failed_hot_read_leaves_the_reads_to_sqlalchemy_then_recovers(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await users_repo.insert_user(conn, USER)
    assert await users_repo.read_user(engine, DEFAULT_TENANT, USER["id"]) == USER
    assert await hot_backends(engine)  # the read opened a hot connection, named as such

    await rename_users(engine, "users", "users_away")  # every read of users now fails
    statements = Statements(engine)
    try:
        with pytest.raises(ProgrammingError, match="users"):  # reported by SQLAlchemy
            await users_repo.read_user(engine, DEFAULT_TENANT, USER["id"])
        assert any("FROM users" in s for s in statements.seen)
    finally:
        await rename_users(engine, "users_away", "users")

    statements.seen.clear()
    assert await users_repo.read_user(engine, DEFAULT_TENANT, USER["id"]) == USER
    assert any("FROM users" in s for s in statements.seen)  # still stepping aside

    await asyncio.sleep(hot_path.PG_HOT_PAUSE + 0.1)
    statements.seen.clear()
    assert await users_repo.read_user(engine, DEFAULT_TENANT, USER["id"]) == USER
    assert statements.seen == []  # hot again


@on_postgresql
async def test_reads_stay_right_when_the_hot_connections_are_killed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await users_repo.insert_user(conn, USER)
    assert await users_repo.read_user(engine, DEFAULT_TENANT, USER["id"]) == USER
    backends = await hot_backends(engine)
    async with engine.connect() as conn:
        for pid in backends:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    # Whichever path answers (asyncpg may replace a dead connection before using it, or the
    # read fails and SQLAlchemy answers), the answer is the same.
    for _ in range(3):
        assert await users_repo.read_user(engine, DEFAULT_TENANT, USER["id"]) == USER
    await asyncio.sleep(hot_path.PG_HOT_PAUSE + 0.1)
    statements = Statements(engine)
    assert await users_repo.read_user(engine, DEFAULT_TENANT, USER["id"]) == USER
    assert statements.seen == []  # hot, on a new connection
    assert set(await hot_backends(engine)).isdisjoint(backends)


@on_postgresql
async def test_writes_stay_right_when_the_hot_connections_are_killed(
    engine: AsyncEngine,
) -> None:
    """Idle hot connections cut by the server (a restart, a failover): the next writes
    either take a new connection or are answered 503; none is lost or done twice."""
    store = ArtifactStore(engine, DEFAULT_TENANT)
    await store.save("AuthorizationCode", "before", {"v": 1}, 60)
    backends = await hot_backends(engine)
    async with engine.connect() as conn:
        for pid in backends:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await asyncio.sleep(0.1)
    outcomes = []
    for n in range(3):
        try:
            await store.save("AuthorizationCode", f"after{n}", {"v": n}, 60)
            outcomes.append("stored")
        except Exception as error:
            assert is_unavailable(error)
            outcomes.append("503")
    for n, outcome in enumerate(outcomes):
        assert len(await artifact_rows(engine, f"after{n}")) == (outcome == "stored")
    assert outcomes[-1] == "stored"
