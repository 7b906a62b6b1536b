"""``/api/organization-roles``: the organization template's roles and the organization
scopes each grants (Logto's paths, bodies and status codes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from portico.services import organizations as orgs
from portico.storage import organizations as repo
from portico.storage.search import Search
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import (
    Body,
    Id,
    NamedRef,
    OrganizationRoleOut,
    OrganizationScopeOut,
    ScopeOut,
    organization_role_out,
    organization_scope_out,
    scope_out,
)
from portico.web.api.search import search_query

KIND = "organization_roles"


class CreateOrganizationRole(Body):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(None, max_length=256)
    type: Literal["User", "MachineToMachine"] = "User"
    organizationScopeIds: list[Id] | None = Field(None, max_length=100)
    resourceScopeIds: list[Id] | None = Field(None, max_length=100)


class UpdateOrganizationRole(Body):
    name: str | None = Field(None, min_length=1, max_length=128)
    description: str | None = Field(None, max_length=256)


class OrganizationScopeIds(Body):
    organizationScopeIds: list[Id] = Field(max_length=100)


class ScopeIds(Body):
    scopeIds: list[Id] = Field(max_length=100)


class ResourceScopeEntity(NamedRef):
    resource: NamedRef


class OrganizationRoleWithScopes(OrganizationRoleOut):
    scopes: list[NamedRef]
    resourceScopes: list[ResourceScopeEntity]


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(
        dependencies=[authorized], route_class=AuditedRoute, tags=["Organization roles"]
    )

    @router.get("/organization-roles", response_model=list[OrganizationRoleWithScopes])
    async def list_organization_roles(
        request: Request,
        response: Response,
        page: Annotated[Page, Depends(pagination(optional=True))],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        """By name, each with the organization scopes it grants."""
        async with api.read() as conn:
            total, rows = await repo.find(
                conn, KIND, api.tenant, search=search, offset=page.offset, limit=page.limit
            )
            resource_scopes = await repo.resource_scopes_of_roles(conn, [r["id"] for r in rows])
            out = []
            for row in rows:
                _, scopes = await repo.find(
                    conn, "organization_scopes", api.tenant, role_id=row["id"]
                )
                out.append(
                    {
                        **organization_role_out(row),
                        "scopes": [{"id": s["id"], "name": s["name"]} for s in scopes],
                        "resourceScopes": resource_scopes[row["id"]],
                    }
                )
        paginate(request, response, page, total)
        return out

    @router.post("/organization-roles", response_model=OrganizationRoleOut, status_code=201)
    async def create_organization_role(body: CreateOrganizationRole) -> dict[str, Any]:
        """422 ``entity.unique_integrity_violation`` when the name is taken."""
        async with api.write() as conn:
            row = await orgs.create_role(
                conn,
                api.tenant,
                name=body.name,
                description=body.description,
                role_type=body.type,
                scope_ids=body.organizationScopeIds,
                resource_scope_ids=body.resourceScopeIds,
            )
        return organization_role_out(row)

    @router.get("/organization-roles/{id}", response_model=OrganizationRoleOut)
    async def get_organization_role(id: str) -> dict[str, Any]:
        async with api.read() as conn:
            return organization_role_out(await orgs.get(conn, KIND, api.tenant, id))

    @router.patch("/organization-roles/{id}", response_model=OrganizationRoleOut)
    async def update_organization_role(id: str, body: UpdateOrganizationRole) -> dict[str, Any]:
        changes = {
            k: getattr(body, k)
            for k in body.model_fields_set
            if getattr(body, k) is not None or k == "description"
        }
        async with api.write() as conn:
            return organization_role_out(await orgs.update_role(conn, api.tenant, id, changes))

    @router.delete("/organization-roles/{id}", status_code=204, response_class=Response)
    async def delete_organization_role(id: str) -> Response:
        """Members holding it lose it."""
        async with api.write() as conn:
            await orgs.delete(conn, KIND, api.tenant, id)
        return Response(status_code=204)

    # Scopes ----------------------------------------------------------------------------------
    @router.get("/organization-roles/{id}/scopes", response_model=list[OrganizationScopeOut])
    async def list_organization_role_scopes(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination(optional=True))],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            await orgs.get(conn, KIND, api.tenant, id)
            total, rows = await repo.find(
                conn,
                "organization_scopes",
                api.tenant,
                role_id=id,
                search=search,
                offset=page.offset,
                limit=page.limit,
            )
        paginate(request, response, page, total)
        return [organization_scope_out(r) for r in rows]

    @router.post("/organization-roles/{id}/scopes", status_code=201, response_class=Response)
    async def add_organization_role_scopes(id: str, body: OrganizationScopeIds) -> Response:
        """Scopes already granted stay granted."""
        async with api.write() as conn:
            await orgs.set_role_scopes(conn, api.tenant, id, body.organizationScopeIds)
        return Response(status_code=201)

    @router.put("/organization-roles/{id}/scopes", status_code=204, response_class=Response)
    async def replace_organization_role_scopes(id: str, body: OrganizationScopeIds) -> Response:
        async with api.write() as conn:
            await orgs.set_role_scopes(
                conn, api.tenant, id, body.organizationScopeIds, replace=True
            )
        return Response(status_code=204)

    @router.delete(
        "/organization-roles/{id}/scopes/{scopeId}", status_code=204, response_class=Response
    )
    async def delete_organization_role_scope(id: str, scopeId: str) -> Response:
        async with api.write() as conn:
            await orgs.remove_role_scope(conn, api.tenant, id, scopeId)
        return Response(status_code=204)

    # API-resource scopes --------------------------------------------------------------------
    @router.get("/organization-roles/{id}/resource-scopes", response_model=list[ScopeOut])
    async def list_organization_role_resource_scopes(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination(optional=True))],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        """The API scopes members holding the role get in tokens for their organization."""
        async with api.read() as conn:
            await orgs.get(conn, KIND, api.tenant, id)
            total, rows = await repo.find_role_resource_scopes(
                conn, id, search=search, offset=page.offset, limit=page.limit
            )
        paginate(request, response, page, total)
        return [scope_out(r) for r in rows]

    @router.post(
        "/organization-roles/{id}/resource-scopes", status_code=201, response_class=Response
    )
    async def add_organization_role_resource_scopes(id: str, body: ScopeIds) -> Response:
        """Scopes already granted stay granted."""
        async with api.write() as conn:
            await orgs.set_role_resource_scopes(conn, api.tenant, id, body.scopeIds)
        return Response(status_code=201)

    @router.put(
        "/organization-roles/{id}/resource-scopes", status_code=204, response_class=Response
    )
    async def replace_organization_role_resource_scopes(id: str, body: ScopeIds) -> Response:
        async with api.write() as conn:
            await orgs.set_role_resource_scopes(conn, api.tenant, id, body.scopeIds, replace=True)
        return Response(status_code=204)

    @router.delete(
        "/organization-roles/{id}/resource-scopes/{scopeId}",
        status_code=204,
        response_class=Response,
    )
    async def delete_organization_role_resource_scope(id: str, scopeId: str) -> Response:
        async with api.write() as conn:
            await orgs.remove_role_resource_scope(conn, api.tenant, id, scopeId)
        return Response(status_code=204)

    return router
