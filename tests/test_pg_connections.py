"""The hot path's own pool of asyncpg connections (storage/pg_connections.py), on the real
PostgreSQL server: never more than its size open, callers served in turn, failed and dead
connections replaced, a cancelled caller losing no connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from portico.storage.pg_connections import ConnectionPool
from tests import support

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(
        support.test_database_kind() != "postgresql", reason="connections to PostgreSQL"
    ),
]
APP = "portico-pool-test"


@pytest.fixture
async def pool() -> AsyncIterator[ConnectionPool]:
    connect = {
        "dsn": support.PG_ADMIN_URL,
        "server_settings": {"application_name": APP},
    }
    made = ConnectionPool(connect, 2)
    yield made
    made.close()


async def backends(conn: Any) -> list[int]:
    rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = $1", APP)
    return [row["pid"] for row in rows]


async def test_callers_beyond_the_size_wait_their_turn(pool: ConnectionPool) -> None:
    order: list[int] = []

    async def use(n: int) -> None:
        conn = await pool.acquire()
        order.append(n)
        await conn.fetchval("SELECT pg_sleep(0.05)")
        assert pool.open_connections <= 2
        pool.release(conn)

    await asyncio.gather(*(use(n) for n in range(6)))
    # The first two open connections side by side; the waiters are served in turn.
    assert sorted(order[:2]) == [0, 1] and order[2:] == [2, 3, 4, 5]
    assert pool.open_connections == 2
    conn = await pool.acquire()
    assert len(await backends(conn)) == 2  # the two connections served all six
    pool.release(conn)


async def test_a_failed_connection_is_closed_and_its_slot_reopened(pool: ConnectionPool) -> None:
    first = await pool.acquire()
    second = await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    pool.release(first, reuse=False)  # the waiter opens a new connection in its place
    third = await waiting
    assert first.is_closed() and third is not first and not third.is_closed()
    assert pool.open_connections == 2
    assert await third.fetchval("SELECT 1") == 1
    pool.release(second)
    pool.release(third)


async def test_connections_the_server_closed_while_idle_are_skipped(
    pool: ConnectionPool,
) -> None:
    a, b = await pool.acquire(), await pool.acquire()
    pids = await backends(a)
    pool.release(a)
    pool.release(b)
    killer = await asyncpg.connect(support.PG_ADMIN_URL)
    for pid in pids:
        await killer.execute("SELECT pg_terminate_backend($1)", pid)
    await killer.close()
    await asyncio.sleep(0.2)  # the client sees both sockets close
    conn = await pool.acquire()
    assert await conn.fetchval("SELECT 1") == 1  # a new connection
    assert set(await backends(conn)).isdisjoint(pids)
    assert pool.open_connections == 1
    pool.release(conn)


async def test_a_cancelled_caller_loses_no_connection(pool: ConnectionPool) -> None:
    a, b = await pool.acquire(), await pool.acquire()
    cancelled = asyncio.ensure_future(pool.acquire())
    served = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.01)
    pool.release(a)  # handed to the first waiter ...
    cancelled.cancel()  # ... cancelled before it could take it: it goes to the next one
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    c = await asyncio.wait_for(served, 2)
    assert c is a
    pool.release(b)
    pool.release(c)
    assert pool.open_connections == 2
    x, y = await pool.acquire(), await pool.acquire()  # both still there, no third opened
    assert {x, y} == {a, b}
    pool.release(x)
    pool.release(y)


async def test_close_closes_idle_connections_and_the_others_on_release(
    pool: ConnectionPool,
) -> None:
    idle, busy = await pool.acquire(), await pool.acquire()
    pool.release(idle)
    pool.close()
    assert idle.is_closed() and not busy.is_closed()
    pool.release(busy)
    assert busy.is_closed() and pool.open_connections == 0
