#!/usr/bin/env python3
"""How identifier lookup and user search grow with the number of users (10k, 100k, 1M).

Seeds users with the real seeding path (``portico user seed`` = services/seed.py) into a
fresh SQLite file and, with ``--postgres``, a fresh PostgreSQL database, growing the same
database from one size to the next, and at each size times:

- identifier lookup, the query the sign-in page runs (``storage.users.find_by_identifier``)
  for random existing users' username, e-mail and phone: p50 / p99;
- user search as the Management API and console run it (``storage.users.find_users``: count +
  first page of 20, newest first), the kinds in ``SEARCH_KINDS``: p50 / p95 over all, and
  each kind's p50.

PostgreSQL figures are taken after ``VACUUM (ANALYZE)``, which the seeding command runs
(``storage.database.settle_bulk_load``) and autovacuum would otherwise run shortly after.

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
# Searches as the console and API users run them: a substring of any field (an e-mail, part
# of a username, a "First Last" name shared by ~1/1600 of users, the end of a phone number),
# an e-mail looked up exactly but in other case (Logto's default for ``mode=exact``), and the
# plain first page of the list.
SEARCH_KINDS = ("e-mail", "username", "name", "phone", "exact", "first page")


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
        searches: dict[str, list[float]] = {kind: [] for kind in SEARCH_KINDS}
        for i in range(SEARCHES):
            row = sample[i % len(sample)]
            kind = SEARCH_KINDS[i % len(SEARCH_KINDS)]
            params = {
                "e-mail": [("search", f"%{row.primary_email}%")],
                "username": [("search", f"%{row.username[2:]}%")],
                "name": [("search", f"%{row.name}%")],
                "phone": [("search", f"%{row.primary_phone[-7:]}%")],
                "exact": [("search.primaryEmail", row.primary_email.upper()), ("mode", "exact")],
                "first page": [],
            }[kind]

            async def search(params: list[tuple[str, str]] = params) -> None:
                parsed = search_sql.parse(params) if params else None
                total, page = await repo.find_users(conn, DEFAULT_TENANT, search=parsed, limit=20)
                assert total >= 1 and page

            searches[kind].append(await timed(search))
    every = [t for times in searches.values() for t in times]
    return {
        "lookup_p50": pct(lookups, 0.5),
        "lookup_p99": pct(lookups, 0.99),
        "search_p50": pct(every, 0.5),
        "search_p95": pct(every, 0.95),
        **{f"search {kind}": pct(times, 0.5) for kind, times in searches.items()},
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
            figures = await measure(engine, size, random.Random(size))
            rows.append((label, size, figures, rate))
            print(
                f"{label:<10} {size:>9,} users  seeded {rate:>7,.0f}/s  "
                f"lookup p50 {figures['lookup_p50']:.2f} p99 {figures['lookup_p99']:.2f} ms  "
                f"search p50 {figures['search_p50']:.1f} p95 {figures['search_p95']:.1f} ms",
                flush=True,
            )
            kinds = ", ".join(
                f"{k[7:]} {v:.1f}" for k, v in figures.items() if k.startswith("search ")
            )
            print(f"{'':<10} search p50 by kind (ms): {kinds}", flush=True)
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
