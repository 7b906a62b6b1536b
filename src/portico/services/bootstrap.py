"""First start: migrate, then seed what Logto seeds (idempotent, safe under races).

Seeded: tenants ``default`` and ``admin``; an EC P-384 signing key and a cookie key per tenant;
the Management API resource ``https://default.logto.app/api`` with scope ``all`` and the
machine-to-machine role "Logto Management API access" (same ids as Logto, so scripts written
for Logto work); and Portico's own application ``portico-account`` (below).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.services import cookie_keys, keys
from portico.services import sign_in_experience as sie
from portico.storage import configs
from portico.storage.database import insert_ignore, now_ms, upgrade
from portico.storage.tables import applications, resources, roles, roles_scopes, scopes, tenants

DEFAULT_TENANT = "default"
ADMIN_TENANT = "admin"
MANAGEMENT_API_INDICATOR = "https://default.logto.app/api"
MANAGEMENT_API_ROLE = "Logto Management API access"
# Ids of the seeded rows: the same in every instance (and in Logto).
MANAGEMENT_API_RESOURCE_ID = "management-api"
MANAGEMENT_API_SCOPE_ID = "management-api-all"
MANAGEMENT_API_ROLE_ID = "m-management-api"
# Portico's built-in first-party application (as Logto's built-in ``account-center``): the
# client its own hosted flows sign in with, such as accepting an organization invitation
# (``web/invitation_pages.py``). It has no secret, so no one else can redeem its codes at
# ``/oidc/token``: Portico redeems them in process. Its one redirect URI follows the
# endpoint the server runs with; deleting it is refused (``services/applications``).
ACCOUNT_APP_ID = "portico-account"
ACCOUNT_APP_CALLBACK = "/invitation/callback"


async def ensure_ready(engine: AsyncEngine, endpoint: str | None = None) -> None:
    """Migrate and seed; every process may call this, only the first does any work.
    ``endpoint``: the server's public base URL (the built-in application's redirect URI
    is made from it; None, as for the CLI, leaves it as it is)."""
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
        await _seed_account_app(conn, endpoint, now)
        if endpoint is not None:
            from portico.services import saml_applications  # (it imports this module)

            await saml_applications.follow_endpoint(conn, DEFAULT_TENANT, endpoint)


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


async def _seed_account_app(conn: AsyncConnection, endpoint: str | None, now: int) -> None:
    """The built-in application, and its redirect URI made from ``endpoint`` (rewritten when
    the server moves, so an invitation link keeps working at the new address)."""
    table = applications
    await insert_ignore(
        conn,
        table,
        [
            {
                "tenant_id": DEFAULT_TENANT,
                "id": ACCOUNT_APP_ID,
                "name": "Portico Account",
                "description": "Built in: Portico's own hosted pages (organization invitations).",
                "type": "Traditional",
                "oidc_client_metadata": {"redirectUris": [], "postLogoutRedirectUris": []},
                "custom_client_metadata": {},
                "custom_data": {},
                "is_third_party": False,
                "created_at": now,
            }
        ],
    )
    if endpoint is None:
        return
    wanted = [f"{endpoint.rstrip('/')}{ACCOUNT_APP_CALLBACK}"]
    where = (table.c.tenant_id == DEFAULT_TENANT) & (table.c.id == ACCOUNT_APP_ID)
    oidc = (await conn.execute(select(table.c.oidc_client_metadata).where(where))).scalar_one()
    oidc = oidc or {}
    if oidc.get("redirectUris") != wanted:
        changed = {**oidc, "redirectUris": wanted}
        await conn.execute(update(table).where(where).values(oidc_client_metadata=changed))
