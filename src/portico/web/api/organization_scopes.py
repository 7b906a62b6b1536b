"""``/api/organization-scopes``: the organization template's permissions (Logto's paths,
bodies and status codes)."""

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
from portico.web.api.schemas import Body, OrganizationScopeOut, organization_scope_out
from portico.web.api.search import search_query

KIND = "organization_scopes"


class CreateOrganizationScope(Body):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(None, max_length=256)


class UpdateOrganizationScope(Body):
    name: str | None = Field(None, min_length=1, max_length=128)
    description: str | None = Field(None, max_length=256)


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(
        dependencies=[authorized], route_class=AuditedRoute, tags=["Organization scopes"]
    )

    @router.get("/organization-scopes", response_model=list[OrganizationScopeOut])
    async def list_organization_scopes(
        request: Request,
        response: Response,
        page: Annotated[Page, Depends(pagination(optional=True))],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        """By name; paginated when ``page`` or ``page_size`` is given."""
        async with api.read() as conn:
            total, rows = await repo.find(
                conn, KIND, api.tenant, search=search, offset=page.offset, limit=page.limit
            )
        paginate(request, response, page, total)
        return [organization_scope_out(r) for r in rows]

    @router.post("/organization-scopes", response_model=OrganizationScopeOut, status_code=201)
    async def create_organization_scope(body: CreateOrganizationScope) -> dict[str, Any]:
        """400 ``scope.name_with_space``; 422 ``entity.unique_integrity_violation``."""
        async with api.write() as conn:
            row = await orgs.create_scope(
                conn, api.tenant, name=body.name, description=body.description
            )
        return organization_scope_out(row)

    @router.get("/organization-scopes/{id}", response_model=OrganizationScopeOut)
    async def get_organization_scope(id: str) -> dict[str, Any]:
        async with api.read() as conn:
            return organization_scope_out(await orgs.get(conn, KIND, api.tenant, id))

    @router.patch("/organization-scopes/{id}", response_model=OrganizationScopeOut)
    async def update_organization_scope(id: str, body: UpdateOrganizationScope) -> dict[str, Any]:
        changes = {
            k: getattr(body, k)
            for k in body.model_fields_set
            if getattr(body, k) is not None or k == "description"
        }
        async with api.write() as conn:
            return organization_scope_out(await orgs.update_scope(conn, api.tenant, id, changes))

    @router.delete("/organization-scopes/{id}", status_code=204, response_class=Response)
    async def delete_organization_scope(id: str) -> Response:
        """Roles granting it stop granting it."""
        async with api.write() as conn:
            await orgs.delete(conn, KIND, api.tenant, id)
        return Response(status_code=204)

    return router
