"""Bulk seeding (``portico user seed``, services/seed.py) on the suite's database: the users
it writes are found by the Management API, a batch that clashes writes nothing, and on
PostgreSQL the trigram indexes are back to direct writes afterwards (migration 0008)."""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from portico.services.bootstrap import DEFAULT_TENANT
from portico.services.seed import seed_users
from portico.storage.database import create_engine
from portico.storage.users import TRIGRAM_INDEXES
from tests.support import Server


def _seed(server: Server, count: int, **kwargs: object) -> int:
    async def run() -> int:
        engine = create_engine(server.database_url, pool=False)
        try:
            return await seed_users(engine, DEFAULT_TENANT, count, batch=7, **kwargs)  # type: ignore[arg-type]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _index_options(server: Server) -> dict[str, list[str]]:
    async def work(conn):  # type: ignore[no-untyped-def]
        found = await conn.execute(
            text("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(TRIGRAM_INDEXES)},
        )
        return {name: options or [] for name, options in found}

    return server.db(work)  # type: ignore[no-any-return]


def test_seeded_users_are_searchable_and_a_clash_writes_nothing(
    server: Server, admin: httpx.Client
) -> None:
    prefix = f"sd{uuid.uuid4().hex[:6]}_"
    start = random.randrange(10**6, 10**9)  # phones PHONE_BASE + n: apart from other tests'

    def seeded() -> list[dict]:
        response = admin.get("/users", params={"search.username": f"{prefix}%", "page_size": 100})
        assert response.status_code == 200, response.text
        assert response.headers["total-number"] == str(len(response.json()))
        return response.json()

    assert _seed(server, 30, prefix=prefix, start=start) == 30
    users = seeded()
    assert len(users) == 30
    newest = users[0]
    assert newest["username"].endswith(str(start + 29))
    exact = {"search.primaryEmail": newest["primaryEmail"].upper(), "mode": "exact"}
    assert [u["id"] for u in admin.get("/users", params=exact).json()] == [newest["id"]]

    # Five new users and five taken usernames in one batch: the batch is refused whole.
    with pytest.raises(IntegrityError):
        _seed(server, 10, prefix=prefix, start=start + 25)
    assert len(seeded()) == 30

    if server.database_url.startswith("postgresql"):
        options = _index_options(server)
        assert sorted(options) == sorted(TRIGRAM_INDEXES)
        assert all("fastupdate=off" in o for o in options.values()), options
