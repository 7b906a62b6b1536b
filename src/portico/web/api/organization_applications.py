"""``/api/organizations/:id/applications``: machine-to-machine applications as members of an
organization and their organization roles (Logto's RFC 0006 paths, bodies, status codes
and error codes). What a member application may then get is the client-credentials grant
with ``organization_id`` (``protocol/grants/client_credentials.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from portico.services import organizations as orgs
from portico.storage import organizations as repo
from portico.storage.search import Search
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import (
    ApplicationOut,
    Body,
    Id,
    NamedRef,
    OrganizationRoleOut,
    application_out,
    organization_role_out,
)
from portico.web.api.search import search_query


class ApplicationIds(Body):
    applicationIds: list[Id] = Field(min_length=1, max_length=100)


class ApplicationIdsToReplace(Body):
    applicationIds: list[Id] = Field(max_length=100)


class RoleIds(Body):
    organizationRoleIds: list[Id] = Field(min_length=1, max_length=100)


class ApplicationsAndRoles(Body):
    applicationIds: list[Id] = Field(min_length=1, max_length=100)
    organizationRoleIds: list[Id] = Field(min_length=1, max_length=100)


class MemberApplicationOut(ApplicationOut):
    organizationRoles: list[NamedRef]


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Organizations"])
    base = "/organizations/{id}/applications"

    @router.get(base, response_model=list[MemberApplicationOut])
    async def list_organization_applications(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination())],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        """By name, each with its organization roles (no secrets)."""
        async with api.read() as conn:
            await orgs.get(conn, "organizations", api.tenant, id)
            total, rows = await repo.find_app_members(
                conn, api.tenant, id, search=search, offset=page.offset or 0, limit=page.size
            )
            roles = await repo.held_roles_of(conn, repo.APPLICATIONS, id, [r["id"] for r in rows])
        paginate(request, response, page, total)
        return [{**application_out(r), "organizationRoles": roles[r["id"]]} for r in rows]

    @router.post(base, status_code=201, response_class=Response)
    async def add_organization_applications(id: str, body: ApplicationIds) -> Response:
        """Machine-to-machine applications only (422 ``entity.db_constraint_violated``
        otherwise); members already present stay as they are."""
        async with api.write() as conn:
            await orgs.add_app_members(conn, api.tenant, id, body.applicationIds)
        return Response(status_code=201)

    @router.put(base, status_code=204, response_class=Response)
    async def replace_organization_applications(id: str, body: ApplicationIdsToReplace) -> Response:
        """Exactly these member applications; those removed lose their roles in it."""
        async with api.write() as conn:
            await orgs.replace_app_members(conn, api.tenant, id, body.applicationIds)
        return Response(status_code=204)

    @router.delete(base + "/{applicationId}", status_code=204, response_class=Response)
    async def delete_organization_application(id: str, applicationId: str) -> Response:
        async with api.write() as conn:
            await orgs.remove_app_member(conn, api.tenant, id, applicationId)
        return Response(status_code=204)

    @router.post(base + "/roles", status_code=201, response_class=Response)
    async def assign_organization_applications_roles(
        id: str, body: ApplicationsAndRoles
    ) -> Response:
        """Every role to every application (all must be members)."""
        async with api.write() as conn:
            await orgs.assign_app_roles(
                conn, api.tenant, id, body.applicationIds, body.organizationRoleIds
            )
        return Response(status_code=201)

    roles = base + "/{applicationId}/roles"

    @router.get(roles, response_model=list[OrganizationRoleOut])
    async def list_organization_application_roles(
        id: str, applicationId: str
    ) -> list[dict[str, Any]]:
        """422 ``organization.require_membership`` when the application is not a member."""
        async with api.read() as conn:
            rows = await orgs.app_roles(conn, api.tenant, id, applicationId)
        return [organization_role_out(r) for r in rows]

    @router.post(roles, status_code=201, response_class=Response)
    async def assign_organization_application_roles(
        id: str, applicationId: str, body: RoleIds
    ) -> Response:
        async with api.write() as conn:
            await orgs.assign_app_roles(
                conn, api.tenant, id, [applicationId], body.organizationRoleIds
            )
        return Response(status_code=201)

    @router.put(roles, status_code=204, response_class=Response)
    async def replace_organization_application_roles(
        id: str, applicationId: str, body: RoleIds
    ) -> Response:
        async with api.write() as conn:
            await orgs.assign_app_roles(
                conn, api.tenant, id, [applicationId], body.organizationRoleIds, replace=True
            )
        return Response(status_code=204)

    @router.delete(roles + "/{organizationRoleId}", status_code=204, response_class=Response)
    async def delete_organization_application_role(
        id: str, applicationId: str, organizationRoleId: str
    ) -> Response:
        async with api.write() as conn:
            await orgs.remove_app_role(conn, api.tenant, id, applicationId, organizationRoleId)
        return Response(status_code=204)

    return router
