"""Remembered consent for third-party applications (OpenID Connect Core §3.1.2.4).

What a user allowed one application (scopes, resources and, with
``urn:logto:scope:organizations``, which of their organizations) is kept until revoked, not
per session: signing out does not forget it. The consent page is shown again when a request
asks for more than was allowed, or with ``prompt=consent``. Revocation is through the
Management API (the application's consent organizations, or the whole consent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.services import applications as app_service
from portico.services import organizations as org_service
from portico.services import users as user_service
from portico.services.errors import NotFound, ServiceError
from portico.storage import consents as repo
from portico.storage import organizations as org_repo
from portico.storage.database import now_ms


@dataclass(frozen=True)
class Request:
    """What an authorization request asks one user to allow."""

    scopes: list[str]
    resources: list[str]


async def covers(conn: AsyncConnection, app_id: str, user_id: str, request: Request) -> bool:
    """True when an earlier consent already allows everything ``request`` asks for."""
    row = await repo.get(conn, app_id, user_id)
    if row is None:
        return False
    return set(request.scopes) <= set(row["scopes"]) and set(request.resources) <= set(
        row["resources"]
    )


async def remember(
    conn: AsyncConnection,
    tenant_id: str,
    app_id: str,
    user_id: str,
    request: Request,
    organization_ids: list[str] | None,
) -> None:
    """Add what the user allowed now to what they allowed before. ``organization_ids``
    (when the organizations scope was asked for) replaces the granted organizations: the page
    showed every one of the user's organizations, so unchecked ones are withdrawn."""
    if organization_ids is not None:
        await _replace_organizations(conn, tenant_id, app_id, user_id, organization_ids)
    row = await repo.get(conn, app_id, user_id)
    before_scopes = row["scopes"] if row else []
    before_resources = row["resources"] if row else []
    await repo.put(
        conn,
        {
            "tenant_id": tenant_id,
            "application_id": app_id,
            "user_id": user_id,
            "scopes": sorted(set(before_scopes) | set(request.scopes)),
            "resources": sorted(set(before_resources) | set(request.resources)),
            "updated_at": now_ms(),
        },
    )


async def forget(conn: AsyncConnection, tenant_id: str, app_id: str, user_id: str) -> None:
    """Withdraw the whole consent: the next request shows the page again."""
    await _third_party_app_and_user(conn, tenant_id, app_id, user_id)
    await org_repo.remove_consented(conn, app_id, user_id)
    await repo.remove(conn, app_id, user_id)


async def organization_choices(
    engine: AsyncEngine, app_id: str, user_id: str
) -> list[dict[str, Any]]:
    """The user's organizations as a consent screen offers them (``id``, ``name``,
    ``description``), each ``checked`` when this application was granted it before: the
    consent page and the Experience API's consent info list the same."""
    async with engine.connect() as conn:
        rows = await org_repo.user_organizations(conn, user_id)
        granted = set(await org_repo.consented_ids(conn, app_id, user_id))
    return [{**row, "checked": row["id"] in granted} for row in rows]


# The application's consent organizations (Management API) ---------------------------------
async def organizations(
    conn: AsyncConnection, tenant_id: str, app_id: str, user_id: str
) -> list[dict[str, object]]:
    await _third_party_app_and_user(conn, tenant_id, app_id, user_id)
    ids = await org_repo.consented_ids(conn, app_id, user_id)
    return [await org_service.get(conn, "organizations", tenant_id, o) for o in ids]


async def grant_organizations(
    conn: AsyncConnection,
    tenant_id: str,
    app_id: str,
    user_id: str,
    organization_ids: list[str],
    *,
    replace: bool = False,
) -> None:
    await _third_party_app_and_user(conn, tenant_id, app_id, user_id)
    if replace:
        await _replace_organizations(conn, tenant_id, app_id, user_id, organization_ids)
        return
    held = set(await org_repo.consented_ids(conn, app_id, user_id))
    wanted = await _memberships(conn, tenant_id, user_id, organization_ids)
    await org_repo.add_consented(
        conn, tenant_id, app_id, user_id, [o for o in wanted if o not in held]
    )


async def revoke_organization(
    conn: AsyncConnection, tenant_id: str, app_id: str, user_id: str, org_id: str
) -> None:
    await _third_party_app_and_user(conn, tenant_id, app_id, user_id)
    if not await org_repo.remove_consented(conn, app_id, user_id, [org_id]):
        raise NotFound("organization", org_id)


async def _replace_organizations(
    conn: AsyncConnection, tenant_id: str, app_id: str, user_id: str, organization_ids: list[str]
) -> None:
    wanted = await _memberships(conn, tenant_id, user_id, organization_ids)
    await org_repo.remove_consented(conn, app_id, user_id)
    await org_repo.add_consented(conn, tenant_id, app_id, user_id, wanted)


async def _memberships(
    conn: AsyncConnection, tenant_id: str, user_id: str, organization_ids: list[str]
) -> list[str]:
    """The ids, once each, after checking that the user is a member of every one."""
    unique = list(dict.fromkeys(organization_ids))
    for org_id in unique:
        await org_service.get(conn, "organizations", tenant_id, org_id)
        if not await org_repo.is_member(conn, org_id, user_id):
            raise ServiceError(
                f"The user `{user_id}` is not a member of the organization `{org_id}`.",
                code="organization.require_membership",
                status=422,
            )
    return unique


async def _third_party_app_and_user(
    conn: AsyncConnection, tenant_id: str, app_id: str, user_id: str
) -> None:
    app = await app_service.get_application(conn, tenant_id, app_id)
    if not app["is_third_party"]:
        raise ServiceError(
            "Only third-party applications keep user consent.",
            code="application.third_party_application_only",
            status=422,
        )
    await user_service.get_user(conn, tenant_id, user_id)
