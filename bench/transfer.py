"""Export, import and purge throughput: N users (with role assignments) exported to NDJSON
and imported into a fresh database; M expired artifacts purged by 1 and by 4 concurrent
purgers. Prints figures; asserts nothing.

    python bench/transfer.py [--users 20000] [--expired 50000] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Without ``--postgres`` both databases are SQLite files in a temporary directory; with it, two
databases are created on that server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, text

from portico.ids import digest, short_id, standard_id
from portico.services.bootstrap import MANAGEMENT_API_ROLE_ID, ensure_ready
from portico.services.passwords import hash_sync
from portico.services.purge import purge_expired
from portico.storage.database import create_engine, now_ms
from portico.storage.tables import oidc_model_instances, roles, users, users_roles
from portico.transfer.exporter import export
from portico.transfer.importer import ImportOptions, import_stream


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url, pool=False)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(statement))
    await engine.dispose()


async def _fill(url: str, count: int) -> None:
    engine = create_engine(url, pool=False)
    await ensure_ready(engine)
    hashed = hash_sync("correct horse battery staple")
    now = now_ms()
    async with engine.begin() as conn:
        await conn.execute(
            insert(roles).values(
                tenant_id="default", id="bench-role", name="bench", description="bench",
                type="User", is_default=False,
            )
        )  # fmt: skip
        for start in range(0, count, 1000):
            batch = [
                {
                    "tenant_id": "default", "id": short_id(), "username": f"u{i}",
                    "primary_email": f"u{i}@example.com", "primary_phone": None,
                    "password_encrypted": hashed, "password_encryption_method": "Argon2id",
                    "name": f"User {i}", "avatar": None, "profile": {},
                    "identities": {}, "custom_data": {"n": i}, "is_suspended": False,
                    "last_sign_in_at": None, "created_at": now, "updated_at": now,
                }
                for i in range(start, min(start + 1000, count))
            ]  # fmt: skip
            await conn.execute(insert(users), batch)
            await conn.execute(
                insert(users_roles),
                [
                    {"tenant_id": "default", "user_id": u["id"], "role_id": "bench-role"}
                    for u in batch
                ],
            )
    await engine.dispose()
    assert MANAGEMENT_API_ROLE_ID  # the seeded rows exist too (and are not exported)


async def _expired(url: str, count: int) -> None:
    engine = create_engine(url, pool=False)
    now = now_ms()
    async with engine.begin() as conn:
        for start in range(0, count, 5000):
            await conn.execute(
                insert(oidc_model_instances),
                [
                    {"tenant_id": "default", "model_name": "AccessToken",
                     "id": digest(standard_id()), "payload": {}, "expires_at": now - 1000 - i,
                     "grant_id": None}
                    for i in range(start, min(start + 5000, count))
                ],
            )  # fmt: skip
    await engine.dispose()


async def bench(source: str, target: str, users_count: int, expired: int) -> None:
    await _fill(source, users_count)
    engine = create_engine(source, pool=False)
    buffer = io.StringIO()
    started = time.perf_counter()
    counts = await export(engine, "default", buffer, encryption_key=lambda: b"\0" * 32)
    seconds = time.perf_counter() - started
    await engine.dispose()
    records = sum(counts.values())
    size = len(buffer.getvalue().encode())
    print(f"export: {records} records, {size / 1e6:.1f} MB in {seconds:.2f} s "
          f"= {records / seconds:,.0f} records/s")  # fmt: skip

    engine = create_engine(target, pool=False)
    await ensure_ready(engine)
    data = io.BytesIO(buffer.getvalue().encode())
    started = time.perf_counter()
    summary = await import_stream(engine, "default", data, ImportOptions())
    seconds = time.perf_counter() - started
    imported = sum(summary.imported.values())
    print(f"import: {imported} records in {seconds:.2f} s = {imported / seconds:,.0f} records/s "
          "(one transaction)")  # fmt: skip

    for purgers in (1, 4):
        await _expired(target, expired)
        engines = [create_engine(target, pool=False) for _ in range(purgers)]
        started = time.perf_counter()
        reports = await asyncio.gather(*(purge_expired(e) for e in engines))
        seconds = time.perf_counter() - started
        deleted = sum(r.artifacts for r in reports)
        print(f"purge: {deleted} expired rows, {purgers} concurrent purger(s), {seconds:.2f} s "
              f"= {deleted / seconds:,.0f} rows/s")  # fmt: skip
        for e in engines:
            await e.dispose()
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--expired", type=int, default=50_000)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to use instead")
    args = parser.parse_args()
    if args.postgres:
        names = [f"portico_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        base = args.postgres.rsplit("/", 1)[0]
        for name in names:
            asyncio.run(_admin(args.postgres, f'CREATE DATABASE "{name}"'))
        try:
            print(f"PostgreSQL ({base})")
            asyncio.run(bench(f"{base}/{names[0]}", f"{base}/{names[1]}", args.users, args.expired))
        finally:
            for name in names:
                asyncio.run(_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    with tempfile.TemporaryDirectory() as directory:
        print("SQLite")
        source, target = (f"sqlite:///{Path(directory) / n}.db" for n in ("source", "target"))
        asyncio.run(bench(source, target, args.users, args.expired))


if __name__ == "__main__":
    main()
