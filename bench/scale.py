#!/usr/bin/env python3
"""How identifier lookup and user search grow with the number of users (10k, 100k, 1M).

Seeds users with the real seeding path (``portico user seed`` = services/seed.py) into a
fresh SQLite file and, with ``--postgres``, a fresh PostgreSQL database, growing the same
database from one size to the next, and at each size times:

- identifier lookup, the query the sign-in page runs (``storage.users.find_by_identifier``)
  for random existing users' username, e-mail and phone: p50 / p99;
- user search as the Management API and console run it (``storage.users.find_users``: count +
  first page of 20, newest first) for a random user's e-mail, a username fragment, a
  "First Last" name (~1/1600 of users), a phone fragment, and the plain first page: p50 / p95.

Prints figures; asserts nothing. Repository level (no HTTP) so that the figure is the
database's; ``bench/management_api.py`` has the HTTP figures.

    python bench/scale.py [--sizes 10000,100000,1000000] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from sqlalchemy import select

from portico.services.bootstrap import DEFAULT_TENANT, ensure_ready
from portico.services.seed import PHONE_BASE, seed_users
from portico.storage import search as search_sql
from portico.storage import users as repo
from portico.storage.database import create_engine
from portico.storage.tables import users

LOOKUPS = 300
SEARCHES = 60


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p * (len(s) - 1)))] * 1000


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def measure(engine, size: int, rng: random.Random) -> dict[str, float]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        sample = []
        for n in rng.sample(range(size), 60):
            row = (
                await conn.execute(
                    select(
                        users.c.username, users.c.primary_email, users.c.primary_phone, users.c.name
                    ).where(users.c.primary_phone == str(PHONE_BASE + n))
                )
            ).one()
            sample.append(row)
        lookups: list[float] = []
        for i in range(LOOKUPS):
            row = sample[i % len(sample)]
            ident = (row.username, row.primary_email, row.primary_phone)[i % 3]

            async def lookup(value: str = ident) -> None:
                assert await repo.find_by_identifier(conn, DEFAULT_TENANT, value)

            lookups.append(await timed(lookup))
        searches: list[float] = []
        for i in range(SEARCHES):
            row = sample[i % len(sample)]
            term = (
                row.primary_email,
                row.username[2:],
                row.name,
                row.primary_phone[-7:],
                None,
            )[i % 5]

            async def search(term: str | None = term) -> None:
                parsed = search_sql.parse([("search", f"%{term}%")]) if term else None
                total, page = await repo.find_users(conn, DEFAULT_TENANT, search=parsed, limit=20)
                assert total >= 1 and page

            searches.append(await timed(search))
    return {
        "lookup_p50": pct(lookups, 0.5),
        "lookup_p99": pct(lookups, 0.99),
        "search_p50": pct(searches, 0.5),
        "search_p95": pct(searches, 0.95),
    }


async def run_one(label: str, url: str, sizes: list[int]) -> list[tuple[str, int, dict, float]]:
    engine = create_engine(url)
    rows = []
    try:
        await ensure_ready(engine)
        have = 0
        for size in sizes:
            started = time.perf_counter()
            await seed_users(engine, DEFAULT_TENANT, size - have, start=have)
            rate = (size - have) / (time.perf_counter() - started)
            have = size
            if engine.dialect.name == "postgresql":
                async with engine.begin() as conn:
                    await conn.exec_driver_sql("ANALYZE users")
            figures = await measure(engine, size, random.Random(size))
            rows.append((label, size, figures, rate))
            print(
                f"{label:<10} {size:>9,} users  seeded {rate:>7,.0f}/s  "
                f"lookup p50 {figures['lookup_p50']:.2f} p99 {figures['lookup_p99']:.2f} ms  "
                f"search p50 {figures['search_p50']:.1f} p95 {figures['search_p95']:.1f} ms",
                flush=True,
            )
    finally:
        await engine.dispose()
    return rows


async def main_async(args: argparse.Namespace) -> None:
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="portico-scale-") as tmp:
        await run_one("SQLite", f"sqlite:///{Path(tmp) / 'portico.db'}", sizes)
    if args.postgres:
        name = f"portico_scale_{uuid.uuid4().hex[:8]}"
        admin = args.postgres.replace("postgresql://", "postgres://")
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            await run_one("PostgreSQL", args.postgres.rsplit("/", 1)[0] + f"/{name}", sizes)
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--postgres", default="", help="an admin URL; a scratch database is made")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
