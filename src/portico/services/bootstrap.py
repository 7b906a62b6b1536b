"""First start: migrate, then seed what Logto seeds (idempotent, safe under races).

Seeded: tenants ``default`` and ``admin``; an EC P-384 signing key and a cookie key per tenant;
the Management API resource ``https://default.logto.app/api`` with scope ``all`` and the
machine-to-machine role "Logto Management API access" (same ids as Logto, so scripts written
for Logto work).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from portico.services import cookie_keys, keys
from portico.services import sign_in_experience as sie
from portico.storage import configs
from portico.storage.database import insert_ignore, now_ms, upgrade
from portico.storage.tables import resources, roles, roles_scopes, scopes, tenants

DEFAULT_TENANT = "default"
ADMIN_TENANT = "admin"
MANAGEMENT_API_INDICATOR = "https://default.logto.app/api"
MANAGEMENT_API_ROLE = "Logto Management API access"
# Ids of the seeded rows: the same in every instance (and in Logto).
MANAGEMENT_API_RESOURCE_ID = "management-api"
MANAGEMENT_API_SCOPE_ID = "management-api-all"
MANAGEMENT_API_ROLE_ID = "m-management-api"


async def ensure_ready(engine: AsyncEngine) -> None:
    """Migrate and seed; every process may call this, only the first does any work."""
    await upgrade(engine)
    now = now_ms()
    async with engine.begin() as conn:
        await insert_ignore(
            conn,
            tenants,
            [
                {"id": DEFAULT_TENANT, "name": "My Project", "created_at": now},
                {"id": ADMIN_TENANT, "name": "Admin", "created_at": now},
            ],
        )
        for tenant_id in (DEFAULT_TENANT, ADMIN_TENANT):
            if await configs.get(conn, tenant_id, keys.PRIVATE_KEYS) is None:
                await configs.add_if_absent(
                    conn, tenant_id, keys.PRIVATE_KEYS, [keys.new_private_key_entry()]
                )
            if await configs.get(conn, tenant_id, keys.COOKIE_KEYS) is None:
                await configs.add_if_absent(
                    conn, tenant_id, keys.COOKIE_KEYS, [keys.new_cookie_key_entry()]
                )
            await cookie_keys.ensure_stable_secret(conn, tenant_id)
            await sie.seed(conn, tenant_id)
        await _seed_management_api(conn, now)


async def _seed_management_api(conn, now: int) -> None:  # type: ignore[no-untyped-def]
    tenant = DEFAULT_TENANT
    await insert_ignore(
        conn,
        resources,
        [
            {
                "tenant_id": tenant,
                "id": MANAGEMENT_API_RESOURCE_ID,
                "name": "Logto Management API",
                "indicator": MANAGEMENT_API_INDICATOR,
                "is_default": False,
                "access_token_ttl": 3600,
            }
        ],
    )
    await insert_ignore(
        conn,
        scopes,
        [
            {
                "tenant_id": tenant,
                "id": MANAGEMENT_API_SCOPE_ID,
                "resource_id": MANAGEMENT_API_RESOURCE_ID,
                "name": "all",
                "description": "Default scope for Management API, allows all permissions.",
                "created_at": now,
            }
        ],
    )
    await insert_ignore(
        conn,
        roles,
        [
            {
                "tenant_id": tenant,
                "id": MANAGEMENT_API_ROLE_ID,
                "name": MANAGEMENT_API_ROLE,
                "description": "Role with Management API access scope.",
                "type": "MachineToMachine",
                "is_default": False,
            }
        ],
    )
    await insert_ignore(
        conn,
        roles_scopes,
        [
            {
                "tenant_id": tenant,
                "role_id": MANAGEMENT_API_ROLE_ID,
                "scope_id": MANAGEMENT_API_SCOPE_ID,
            }
        ],
    )
