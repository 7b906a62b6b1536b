#!/usr/bin/env python3
"""Organizations at scale (issue 33): 10,000 organizations of 100 members each, through the
Management API and the token endpoint of a running Portico, on SQLite and (``--postgres``)
PostgreSQL. Seeds users with the real seeding command (``portico user seed``), then
organizations, memberships and a role per member in bulk, and times:

- the organization list (first page, and a page deep in the list), and search by name;
- member paging (``/api/organizations/:id/users``, 20 per page, with each member's roles);
- a user's organizations (``/api/users/:id/organizations``);
- organization-token issuance (the refresh-token grant with ``organization_id`` for a member
  of 20 organizations, as ``getOrganizationToken`` asks for it).

The budget is the user list's: p95 under 100 ms. Prints figures beside it; asserts nothing.

    python bench/organizations.py [--organizations 10000] [--members 100] [--users 100000]
                                  [--count 100] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from portico.ids import standard_id
from portico.services.bootstrap import DEFAULT_TENANT
from portico.storage.database import create_engine, settle_bulk_load
from portico.storage.tables import (
    organization_role_scope_relations,
    organization_role_user_relations,
    organization_roles,
    organization_scopes,
    organization_user_relations,
    organizations,
    users,
)
from run import (
    auth_code_flow,
    basic,
    log,
    percentile,
    portico_cli,
    prepare_portico,
    scratch_postgres,
    start_portico,
)

BUDGET_MS = 100.0
ORGS_SCOPE = "urn:logto:scope:organizations"
MANAGEMENT_API = "https://default.logto.app/api"
BATCH = 20_000
WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne")


def org_name(i: int) -> str:
    return f"{WORDS[i % len(WORDS)]} {i:06d}"


async def seed_organizations(url: str, count: int, members: int, bench_user: str) -> list[str]:
    """``count`` organizations whose members are consecutive users (each user in about
    ``count * members / users`` of them), every member holding the one role; the bench user
    also joins 20 of them. Returns the organization ids."""
    engine = create_engine(url, pool=False)
    tenant = DEFAULT_TENANT
    try:
        async with engine.connect() as conn:
            user_ids = [
                r.id
                for r in await conn.execute(
                    users.select()
                    .with_only_columns(users.c.id)
                    .where(users.c.tenant_id == tenant)
                    .where(users.c.username != bench_user)
                    .order_by(users.c.id)
                )
            ]
            bench_id = (
                await conn.execute(
                    users.select()
                    .with_only_columns(users.c.id)
                    .where(users.c.username == bench_user)
                )
            ).scalar_one()
        role_id, scope_id = standard_id(), standard_id()
        now = int(time.time() * 1000)
        org_ids = [standard_id() for _ in range(count)]
        async with engine.begin() as conn:
            await conn.execute(
                organization_scopes.insert().values(
                    tenant_id=tenant, id=scope_id, name="read:projects", description=None
                )
            )
            await conn.execute(
                organization_roles.insert().values(
                    tenant_id=tenant, id=role_id, name="member", description=None, type="User"
                )
            )
            await conn.execute(
                organization_role_scope_relations.insert().values(
                    tenant_id=tenant, organization_role_id=role_id, organization_scope_id=scope_id
                )
            )
            for start in range(0, count, BATCH):
                await conn.execute(
                    organizations.insert(),
                    [
                        {
                            "tenant_id": tenant,
                            "id": org_ids[i],
                            "name": org_name(i),
                            "description": None,
                            "custom_data": {},
                            "is_mfa_required": False,
                            "is_trusted_device_allowed": True,
                            "color": {},
                            "branding": {},
                            "custom_css": None,
                            "created_at": now - i,
                        }
                        for i in range(start, min(count, start + BATCH))
                    ],
                )
        pairs = [
            (org_ids[i], user_ids[(i * members + k) % len(user_ids)])
            for i in range(count)
            for k in range(members)
        ]
        pairs += [(org_ids[i], bench_id) for i in range(0, min(count, 20 * 7), 7)]
        pairs = list(dict.fromkeys(pairs))
        for start in range(0, len(pairs), BATCH):
            chunk = pairs[start : start + BATCH]
            async with engine.begin() as conn:
                await conn.execute(
                    organization_user_relations.insert(),
                    [{"tenant_id": tenant, "organization_id": o, "user_id": u} for o, u in chunk],
                )
                await conn.execute(
                    organization_role_user_relations.insert(),
                    [
                        {
                            "tenant_id": tenant,
                            "organization_id": o,
                            "organization_role_id": role_id,
                            "user_id": u,
                        }
                        for o, u in chunk
                    ],
                )
            if start // BATCH % 10 == 0:
                log(f"  memberships {start + len(chunk):,} / {len(pairs):,}")
        for table in (
            "organizations",
            "organization_user_relations",
            "organization_role_user_relations",
        ):
            await settle_bulk_load(engine, table)
        return org_ids
    finally:
        await engine.dispose()


def timed(count: int, call: Callable[[int], httpx.Response]) -> list[float]:
    times = []
    for i in range(count):
        start = time.perf_counter()
        response = call(i)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text[:300]
    return times


def row(label: str, times: list[float]) -> str:
    p50, p95 = percentile(times, 0.5) * 1000, percentile(times, 0.95) * 1000
    verdict = "within" if p95 < BUDGET_MS else "OVER"
    return f"  {label:<40} {p50:8.2f} {p95:9.2f}   {verdict} {BUDGET_MS:.0f} ms"


def measure(
    label: str, data: Path, env: dict[str, str], args: argparse.Namespace, port: int, logs: Path
) -> list[str]:
    m2m, web = prepare_portico(data, env)
    log(f"{label}: seeding {args.users:,} users")
    portico_cli(
        "user",
        "seed",
        "--data-dir",
        str(data),
        "--count",
        str(args.users),
        "--prefix",
        "member",
        env=env,
    )
    url = env.get("DATABASE_URL") or f"sqlite:///{(data / 'portico.db').resolve()}"
    log(f"{label}: seeding {args.organizations:,} organizations x {args.members} members")
    org_ids = asyncio.run(seed_organizations(url, args.organizations, args.members, "bench"))
    server = start_portico(data, port, 1, logs, env)
    try:
        base = f"http://127.0.0.1:{port}"
        server.wait_http(base + "/api/status", 204)
        rng = random.Random(7)
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.post(
                "/oidc/token",
                headers={"Authorization": basic(m2m["id"], m2m["secret"])},
                data={
                    "grant_type": "client_credentials",
                    "resource": MANAGEMENT_API,
                    "scope": "all",
                },
            ).json()["access_token"]
            api = {"Authorization": f"Bearer {token}"}
            pages = max(1, args.organizations // 20)
            some_users = [
                u["id"]
                for u in client.get("/api/users", params={"page_size": 100}, headers=api).json()
            ]
            figures = [
                (
                    "organizations: first page",
                    lambda _: client.get(
                        "/api/organizations", params={"page": 1, "page_size": 20}, headers=api
                    ),
                ),
                (
                    "organizations: a deep page",
                    lambda _: client.get(
                        "/api/organizations",
                        params={"page": rng.randrange(pages // 2, pages) + 1, "page_size": 20},
                        headers=api,
                    ),
                ),
                (
                    "organizations: search by name",
                    lambda _: client.get(
                        "/api/organizations",
                        params={
                            "q": f"{rng.randrange(args.organizations):06d}",
                            "page": 1,
                            "page_size": 20,
                        },
                        headers=api,
                    ),
                ),
                (
                    "members: a page of 20, with roles",
                    lambda _: client.get(
                        f"/api/organizations/{rng.choice(org_ids)}/users",
                        params={
                            "page": rng.randrange(max(1, args.members // 20)) + 1,
                            "page_size": 20,
                        },
                        headers=api,
                    ),
                ),
                (
                    "a user's organizations",
                    lambda _: client.get(
                        f"/api/users/{rng.choice(some_users)}/organizations", headers=api
                    ),
                ),
            ]
            out = [
                f"{label} ({args.organizations:,} organizations x {args.members} members,"
                f" {args.users:,} users)",
                f"  {'figure':<40} {'p50 ms':>8} {'p95 ms':>9}",
            ]
            for name, call in figures:
                call(0)  # warm
                out.append(row(name, timed(args.count, call)))
            tokens = auth_code_flow(
                client, base, web["id"], web["secret"], scope=f"openid offline_access {ORGS_SCOPE}"
            )
            bench_id = client.get("/api/users", params={"search": "bench"}, headers=api).json()
            joined = client.get(f"/api/users/{bench_id[0]['id']}/organizations", headers=api)
            mine = [o["id"] for o in joined.json()]
            state = {"refresh": tokens["refresh_token"]}

            def organization_token(_: int) -> httpx.Response:
                response = client.post(
                    "/oidc/token",
                    headers={"Authorization": basic(web["id"], web["secret"])},
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": state["refresh"],
                        "organization_id": rng.choice(mine),
                    },
                )
                state["refresh"] = response.json().get("refresh_token", state["refresh"])
                return response

            organization_token(0)
            out.append(
                row(f"organization token ({len(mine)} orgs)", timed(args.count, organization_token))
            )
        return out
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--organizations", type=int, default=10_000)
    ap.add_argument("--members", type=int, default=100)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--port", type=int, default=18131)
    ap.add_argument("--postgres", help="an admin URL: a scratch database is made and dropped")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="portico-bench-orgs-"))
    logs = tmp / "logs"
    logs.mkdir()
    report = measure("SQLite", tmp / "data", {}, args, args.port, logs)
    if args.postgres:
        url, drop = scratch_postgres(args.postgres)
        try:
            report += measure(
                "PostgreSQL", tmp / "data-pg", {"DATABASE_URL": url}, args, args.port + 1, logs
            )
        finally:
            drop()
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
