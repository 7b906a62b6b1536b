"""``/api/roles``: CRUD, and the users, applications and scopes of a role (Logto's paths,
bodies and status codes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from portico.services import rbac
from portico.storage import applications as apps_repo
from portico.storage import rbac as repo
from portico.storage import users as users_repo
from portico.storage.search import Search
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import (
    ApplicationOut,
    Body,
    ResourceOut,
    RoleOut,
    ScopeOut,
    UserOut,
    application_out,
    resource_out,
    role_out,
    scope_out,
    user_out,
)
from portico.web.api.search import search_query

RoleTypeName = Literal["User", "MachineToMachine"]
Id = Annotated[str, Field(min_length=1, max_length=128)]


class CreateRole(Body):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(min_length=1, max_length=128)
    type: RoleTypeName = "User"
    isDefault: bool = Field(False, description="Given to every new user (User roles).")
    scopeIds: list[Id] | None = Field(None, max_length=100)


class UpdateRole(Body):
    name: str | None = Field(None, min_length=1, max_length=128)
    description: str | None = Field(None, min_length=1, max_length=128)
    isDefault: bool | None = None


class UserIds(Body):
    userIds: list[Id] = Field(min_length=1, max_length=100)


class ApplicationIds(Body):
    applicationIds: list[Id] = Field(min_length=1, max_length=100)


class ScopeIds(Body):
    scopeIds: list[Id] = Field(min_length=1, max_length=100)


class FeaturedUser(BaseModel):
    id: str
    avatar: str | None
    name: str | None


class FeaturedApplication(BaseModel):
    id: str
    name: str
    type: str


class RoleListItem(RoleOut):
    usersCount: int
    featuredUsers: list[FeaturedUser]
    applicationsCount: int
    featuredApplications: list[FeaturedApplication]


class RoleScopeOut(ScopeOut):
    resource: ResourceOut


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Roles"])

    @router.get("/roles", response_model=list[RoleListItem])
    async def list_roles(
        request: Request,
        response: Response,
        page: Annotated[Page, Depends(pagination())],
        search: Annotated[Search, Depends(search_query)],
        type: Annotated[RoleTypeName | None, Query()] = None,
        excludeUserId: Annotated[str | None, Query(max_length=128)] = None,
        excludeApplicationId: Annotated[str | None, Query(max_length=128)] = None,
    ) -> list[dict[str, Any]]:
        """By name, with how many users and applications hold each role and the first few."""
        async with api.read() as conn:
            total, rows = await repo.find_roles(
                conn,
                api.tenant,
                search=search,
                role_type=type,
                exclude_user_id=excludeUserId,
                exclude_application_id=excludeApplicationId,
                offset=page.offset or 0,
                limit=page.size,
            )
            ids = [r["id"] for r in rows]
            users = await repo.role_members(conn, "users_roles", ids)
            apps = await repo.role_members(conn, "applications_roles", ids)
        paginate(request, response, page, total)
        return [
            {
                **role_out(r),
                "usersCount": users[r["id"]][0],
                "featuredUsers": users[r["id"]][1],
                "applicationsCount": apps[r["id"]][0],
                "featuredApplications": apps[r["id"]][1],
            }
            for r in rows
        ]

    @router.post("/roles", response_model=RoleOut)
    async def create_role(body: CreateRole) -> dict[str, Any]:
        async with api.write() as conn:
            row = await rbac.create_role(
                conn,
                api.tenant,
                name=body.name,
                role_type=rbac.RoleType(body.type),
                description=body.description,
                is_default=body.isDefault,
                scope_ids=body.scopeIds,
            )
        return role_out(row)

    @router.get("/roles/{id}", response_model=RoleOut)
    async def get_role(id: str) -> dict[str, Any]:
        async with api.read() as conn:
            return role_out(await rbac.get_role(conn, api.tenant, id))

    @router.patch("/roles/{id}", response_model=RoleOut)
    async def update_role(id: str, body: UpdateRole) -> dict[str, Any]:
        columns = {"name": "name", "description": "description", "isDefault": "is_default"}
        changes = {
            columns[k]: getattr(body, k)
            for k in body.model_fields_set
            if getattr(body, k) is not None
        }
        async with api.write() as conn:
            return role_out(await rbac.update_role(conn, api.tenant, id, changes))

    @router.delete("/roles/{id}", status_code=204, response_class=Response)
    async def delete_role(id: str) -> Response:
        async with api.write() as conn:
            await rbac.delete_role(conn, api.tenant, id)
        return Response(status_code=204)

    # Users -----------------------------------------------------------------------------------
    @router.get("/roles/{id}/users", response_model=list[UserOut])
    async def list_role_users(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination())],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            await rbac.get_role(conn, api.tenant, id)
            total, rows = await users_repo.find_users(
                conn,
                api.tenant,
                search=search,
                role_id=id,
                offset=page.offset or 0,
                limit=page.size,
            )
        paginate(request, response, page, total)
        return [user_out(r) for r in rows]

    @router.post("/roles/{id}/users", status_code=201, response_class=Response)
    async def create_role_user(id: str, body: UserIds) -> Response:
        """Give the role to every listed user; 422 ``role.user_exists`` if one has it."""
        async with api.write() as conn:
            await rbac.add_role_holders(conn, api.tenant, id, "user", body.userIds)
        return Response(status_code=201)

    @router.delete("/roles/{id}/users/{userId}", status_code=204, response_class=Response)
    async def delete_role_user(id: str, userId: str) -> Response:
        async with api.write() as conn:
            await rbac.get_role(conn, api.tenant, id)
            await rbac.unassign_role(conn, api.tenant, "user", userId, id)
        return Response(status_code=204)

    # Applications ----------------------------------------------------------------------------
    @router.get(
        "/roles/{id}/applications",
        response_model=list[ApplicationOut],
        response_model_exclude_unset=True,
    )
    async def list_role_applications(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination())],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            await rbac.get_role(conn, api.tenant, id)
            total, rows = await apps_repo.find_applications(
                conn,
                api.tenant,
                search=search,
                role_id=id,
                offset=page.offset,
                limit=page.size,
            )
        paginate(request, response, page, total)
        return [application_out(r) for r in rows]

    @router.post("/roles/{id}/applications", status_code=201, response_class=Response)
    async def create_role_application(id: str, body: ApplicationIds) -> Response:
        """Give the (machine-to-machine) role to every listed application."""
        async with api.write() as conn:
            await rbac.add_role_holders(conn, api.tenant, id, "application", body.applicationIds)
        return Response(status_code=201)

    @router.delete(
        "/roles/{id}/applications/{applicationId}", status_code=204, response_class=Response
    )
    async def delete_role_application(id: str, applicationId: str) -> Response:
        async with api.write() as conn:
            await rbac.get_role(conn, api.tenant, id)
            await rbac.unassign_role(conn, api.tenant, "application", applicationId, id)
        return Response(status_code=204)

    # Scopes ----------------------------------------------------------------------------------
    async def _scopes_with_resources(conn, scopes: list[dict[str, Any]]) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
        resources: dict[str, dict[str, Any]] = {}
        for scope in scopes:
            rid = scope["resource_id"]
            if rid not in resources:
                resources[rid] = await rbac.get_resource(conn, api.tenant, rid)
        return [
            {**scope_out(s), "resource": resource_out(resources[s["resource_id"]])} for s in scopes
        ]

    @router.get("/roles/{id}/scopes", response_model=list[RoleScopeOut])
    async def list_role_scopes(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination(optional=True))],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        """Each scope with the API resource it belongs to."""
        async with api.read() as conn:
            await rbac.get_role(conn, api.tenant, id)
            total, rows = await repo.find_scopes(
                conn, api.tenant, role_id=id, search=search, offset=page.offset, limit=page.limit
            )
            out = await _scopes_with_resources(conn, rows)
        paginate(request, response, page, total)
        return out

    @router.post("/roles/{id}/scopes", response_model=list[ScopeOut], status_code=201)
    async def create_role_scope(id: str, body: ScopeIds) -> list[dict[str, Any]]:
        """Grant scopes; returns every scope the role grants afterwards."""
        async with api.write() as conn:
            await rbac.add_role_scopes(conn, api.tenant, id, body.scopeIds)
            _, rows = await repo.find_scopes(conn, api.tenant, role_id=id)
        return [scope_out(s) for s in rows]

    @router.delete("/roles/{id}/scopes/{scopeId}", status_code=204, response_class=Response)
    async def delete_role_scope(id: str, scopeId: str) -> Response:
        async with api.write() as conn:
            await rbac.remove_role_scope(conn, api.tenant, id, scopeId)
        return Response(status_code=204)

    return router
