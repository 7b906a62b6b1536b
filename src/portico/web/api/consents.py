"""What users allowed third-party applications: ``/api/applications/:id/users/:userId/
consent-organizations`` (Logto's paths and bodies) and ``.../consent`` (Portico: withdraw the
whole remembered consent, so the next sign-in asks again)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from portico.services import consents
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.schemas import OrganizationIds, OrganizationOut, organization_out

BASE = "/applications/{id}/users/{userId}"


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Applications"])

    @router.get(f"{BASE}/consent-organizations", response_model=list[OrganizationOut])
    async def list_application_user_consent_organizations(
        id: str, userId: str
    ) -> list[dict[str, Any]]:
        """The user's organizations this third-party application may see."""
        async with api.read() as conn:
            rows = await consents.organizations(conn, api.tenant, id, userId)
        return [organization_out(r) for r in rows]

    @router.post(f"{BASE}/consent-organizations", status_code=201, response_class=Response)
    async def create_application_user_consent_organizations(
        id: str, userId: str, body: OrganizationIds
    ) -> Response:
        """422 ``organization.require_membership`` for an organization the user is not in."""
        async with api.write() as conn:
            await consents.grant_organizations(conn, api.tenant, id, userId, body.organizationIds)
        return Response(status_code=201)

    @router.put(f"{BASE}/consent-organizations", status_code=204, response_class=Response)
    async def replace_application_user_consent_organizations(
        id: str, userId: str, body: OrganizationIds
    ) -> Response:
        async with api.write() as conn:
            await consents.grant_organizations(
                conn, api.tenant, id, userId, body.organizationIds, replace=True
            )
        return Response(status_code=204)

    @router.delete(
        f"{BASE}/consent-organizations/{{organizationId}}",
        status_code=204,
        response_class=Response,
    )
    async def delete_application_user_consent_organization(
        id: str, userId: str, organizationId: str
    ) -> Response:
        async with api.write() as conn:
            await consents.revoke_organization(conn, api.tenant, id, userId, organizationId)
        return Response(status_code=204)

    @router.delete(f"{BASE}/consent", status_code=204, response_class=Response)
    async def delete_application_user_consent(id: str, userId: str) -> Response:
        """Forget everything the user allowed the application (scopes and organizations)."""
        async with api.write() as conn:
            await consents.forget(conn, api.tenant, id, userId)
        return Response(status_code=204)

    return router
