"""``/api/resources``: API resources, their scopes and the default resource (Logto's paths,
bodies and status codes). The Management API resource itself cannot be changed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from portico.services import rbac
from portico.storage import rbac as repo
from portico.storage.search import Search
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import Body, ResourceOut, ScopeOut, resource_out, scope_out
from portico.web.api.search import search_query

TTL = Field(description="Access token lifetime in seconds.", ge=1, le=86400 * 365)


class CreateResource(Body):
    name: str = Field(min_length=1, max_length=256)
    indicator: str = Field(min_length=1, max_length=2048, description="An absolute URI.")
    accessTokenTtl: Annotated[int, TTL] = 3600


class UpdateResource(Body):
    name: str | None = Field(None, min_length=1, max_length=256)
    accessTokenTtl: Annotated[int, TTL] | None = None


class DefaultBody(Body):
    isDefault: bool


class CreateScope(Body):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(None, max_length=4096)


class UpdateScope(Body):
    name: str | None = Field(None, min_length=1, max_length=256)
    description: str | None = Field(None, max_length=4096)


class ResourceWithScopes(ResourceOut):
    scopes: list[ScopeOut] | None = None


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Resources"])

    @router.get(
        "/resources", response_model=list[ResourceWithScopes], response_model_exclude_unset=True
    )
    async def list_resources(
        request: Request,
        response: Response,
        page: Annotated[Page, Depends(pagination(optional=True))],
        includeScopes: Annotated[str | None, Query(description="`true`: with scopes")] = None,
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            total, rows = await repo.list_resources(conn, api.tenant, page.offset, page.limit)
            out = [resource_out(r) for r in rows]
            if includeScopes in ("true", "1", "yes"):
                _, scopes = await repo.find_scopes(
                    conn, api.tenant, resource_ids=[r["id"] for r in rows]
                )
                for item in out:
                    item["scopes"] = [
                        scope_out(s) for s in scopes if s["resource_id"] == item["id"]
                    ]
        paginate(request, response, page, total)
        return out

    @router.post("/resources", response_model=ResourceWithScopes, status_code=201)
    async def create_resource(body: CreateResource) -> dict[str, Any]:
        async with api.write() as conn:
            row = await rbac.create_resource(
                conn,
                api.tenant,
                indicator=body.indicator,
                name=body.name,
                access_token_ttl=body.accessTokenTtl,
            )
        return {**resource_out(row), "scopes": []}

    @router.get("/resources/{id}", response_model=ResourceOut)
    async def get_resource(id: str) -> dict[str, Any]:
        async with api.read() as conn:
            return resource_out(await rbac.get_resource(conn, api.tenant, id))

    @router.patch("/resources/{id}", response_model=ResourceOut)
    async def update_resource(id: str, body: UpdateResource) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if body.name is not None:
            changes["name"] = body.name
        if body.accessTokenTtl is not None:
            changes["access_token_ttl"] = body.accessTokenTtl
        async with api.write() as conn:
            return resource_out(await rbac.update_resource(conn, api.tenant, id, changes))

    @router.patch("/resources/{id}/is-default", response_model=ResourceOut)
    async def update_resource_is_default(id: str, body: DefaultBody) -> dict[str, Any]:
        """The default resource is the audience of access tokens when a client asks for
        none; setting one unsets the previous one."""
        async with api.write() as conn:
            return resource_out(
                await rbac.set_default_resource(conn, api.tenant, id, body.isDefault)
            )

    @router.delete("/resources/{id}", status_code=204, response_class=Response)
    async def delete_resource(id: str) -> Response:
        """Its scopes, and their grants to roles, go with it."""
        async with api.write() as conn:
            await rbac.delete_resource(conn, api.tenant, id)
        return Response(status_code=204)

    # Scopes ----------------------------------------------------------------------------------
    @router.get("/resources/{resourceId}/scopes", response_model=list[ScopeOut])
    async def list_resource_scopes(
        request: Request,
        response: Response,
        resourceId: str,
        page: Annotated[Page, Depends(pagination())],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            await rbac.get_resource(conn, api.tenant, resourceId)
            total, rows = await repo.find_scopes(
                conn,
                api.tenant,
                resource_id=resourceId,
                search=search,
                offset=page.offset,
                limit=page.limit,
            )
        paginate(request, response, page, total)
        return [scope_out(s) for s in rows]

    @router.post("/resources/{resourceId}/scopes", response_model=ScopeOut, status_code=201)
    async def create_resource_scope(resourceId: str, body: CreateScope) -> dict[str, Any]:
        async with api.write() as conn:
            row = await rbac.create_scope(conn, api.tenant, resourceId, body.name, body.description)
        return scope_out(row)

    @router.patch("/resources/{resourceId}/scopes/{scopeId}", response_model=ScopeOut)
    async def update_resource_scope(
        resourceId: str, scopeId: str, body: UpdateScope
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if body.name is not None:
            changes["name"] = body.name
        if "description" in body.model_fields_set:
            changes["description"] = body.description
        async with api.write() as conn:
            row = await rbac.update_scope(conn, api.tenant, resourceId, scopeId, changes)
        return scope_out(row)

    @router.delete(
        "/resources/{resourceId}/scopes/{scopeId}", status_code=204, response_class=Response
    )
    async def delete_resource_scope(resourceId: str, scopeId: str) -> Response:
        async with api.write() as conn:
            await rbac.delete_scope(conn, api.tenant, resourceId, scopeId)
        return Response(status_code=204)

    return router
