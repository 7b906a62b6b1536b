"""``/api/organizations``: CRUD, members, and members' organization roles; and
``/api/users/:userId/organizations`` (Logto's paths, bodies and status codes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from portico.services import organizations as orgs
from portico.services.sign_in_experience import HEX_COLOR
from portico.services.urls import PublicUrl
from portico.storage import organizations as repo
from portico.storage import users as users_repo
from portico.storage.search import Search
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import (
    Body,
    Id,
    NamedRef,
    OrganizationOut,
    OrganizationRoleOut,
    UserOut,
    organization_out,
    organization_role_out,
    user_out,
)
from portico.web.api.search import search_query

KIND = "organizations"


class OrganizationColor(Body):
    """Logto's PartialColor: what is left out falls back to the sign-in experience's."""

    primaryColor: str | None = Field(None, pattern=HEX_COLOR)
    isDarkModeEnabled: bool | None = None
    darkPrimaryColor: str | None = Field(None, pattern=HEX_COLOR)


class OrganizationBranding(Body):
    logoUrl: PublicUrl | None = None
    darkLogoUrl: PublicUrl | None = None
    favicon: PublicUrl | None = None
    darkFavicon: PublicUrl | None = None


class CreateOrganization(Body):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(None, max_length=256)
    customData: dict[str, Any] | None = None
    isMfaRequired: bool = False
    isTrustedDeviceAllowed: bool = True
    color: OrganizationColor | None = None
    branding: OrganizationBranding | None = None
    customCss: str | None = Field(None, max_length=65_536)


class UpdateOrganization(Body):
    name: str | None = Field(None, min_length=1, max_length=128)
    description: str | None = Field(None, max_length=256)
    customData: dict[str, Any] | None = None
    isMfaRequired: bool | None = None
    isTrustedDeviceAllowed: bool | None = None
    color: OrganizationColor | None = None
    branding: OrganizationBranding | None = None
    customCss: str | None = Field(None, max_length=65_536)


def _stored(value: Any) -> Any:
    """A nested body (colour, branding) as stored: the fields given, as JSON."""
    return value.model_dump(exclude_none=True) if isinstance(value, Body) else value


class UserIds(Body):
    userIds: list[Id] = Field(max_length=100)


class OrganizationRoleIds(Body):
    organizationRoleIds: list[Id] = Field(max_length=100)


class MemberOut(UserOut):
    organizationRoles: list[NamedRef]


class UserOrganizationOut(OrganizationOut):
    organizationRoles: list[NamedRef]


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Organizations"])

    @router.get("/organizations", response_model=list[OrganizationOut])
    async def list_organizations(
        request: Request,
        response: Response,
        page: Annotated[Page, Depends(pagination(optional=True))],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        """Newest first; paginated when ``page`` or ``page_size`` is given."""
        async with api.read() as conn:
            total, rows = await repo.find(
                conn, KIND, api.tenant, search=search, offset=page.offset, limit=page.limit
            )
        paginate(request, response, page, total)
        return [organization_out(r) for r in rows]

    @router.post("/organizations", response_model=OrganizationOut, status_code=201)
    async def create_organization(body: CreateOrganization) -> dict[str, Any]:
        async with api.write() as conn:
            row = await orgs.create_organization(
                conn,
                api.tenant,
                name=body.name,
                description=body.description,
                custom_data=body.customData,
                is_mfa_required=body.isMfaRequired,
                is_trusted_device_allowed=body.isTrustedDeviceAllowed,
                color=_stored(body.color),
                branding=_stored(body.branding),
                custom_css=body.customCss,
            )
        return organization_out(row)

    @router.get("/organizations/{id}", response_model=OrganizationOut)
    async def get_organization(id: str) -> dict[str, Any]:
        async with api.read() as conn:
            return organization_out(await orgs.get(conn, KIND, api.tenant, id))

    @router.patch("/organizations/{id}", response_model=OrganizationOut)
    async def update_organization(id: str, body: UpdateOrganization) -> dict[str, Any]:
        """``description`` or ``customCss`` ``null`` clears it; ``customData``, ``color`` and
        ``branding`` replace the object."""
        columns = {
            "name": "name",
            "description": "description",
            "customData": "custom_data",
            "isMfaRequired": "is_mfa_required",
            "isTrustedDeviceAllowed": "is_trusted_device_allowed",
            "color": "color",
            "branding": "branding",
            "customCss": "custom_css",
        }
        changes = {
            columns[k]: _stored(getattr(body, k))
            for k in body.model_fields_set
            if getattr(body, k) is not None or k in ("description", "customCss")
        }
        async with api.write() as conn:
            row = await orgs.update_organization(conn, api.tenant, id, changes)
        return organization_out(row)

    @router.delete("/organizations/{id}", status_code=204, response_class=Response)
    async def delete_organization(id: str) -> Response:
        """Memberships, their roles and consents naming it go with it."""
        async with api.write() as conn:
            await orgs.delete(conn, KIND, api.tenant, id)
        return Response(status_code=204)

    # Members ---------------------------------------------------------------------------------
    @router.get("/organizations/{id}/users", response_model=list[MemberOut])
    async def list_organization_users(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination())],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        """Members newest first, each with their organization roles."""
        async with api.read() as conn:
            await orgs.get(conn, KIND, api.tenant, id)
            total, rows = await users_repo.find_users(
                conn,
                api.tenant,
                search=search,
                organization_id=id,
                offset=page.offset or 0,
                limit=page.size,
            )
            roles = await repo.member_roles_of(conn, id, [r["id"] for r in rows])
        paginate(request, response, page, total)
        return [{**user_out(r), "organizationRoles": roles[r["id"]]} for r in rows]

    @router.post("/organizations/{id}/users", status_code=201, response_class=Response)
    async def add_organization_users(id: str, body: UserIds) -> Response:
        """Members already present stay as they are."""
        async with api.write() as conn:
            await orgs.add_members(conn, api.tenant, id, body.userIds)
        return Response(status_code=201)

    @router.put("/organizations/{id}/users", status_code=204, response_class=Response)
    async def replace_organization_users(id: str, body: UserIds) -> Response:
        """Exactly these members; those removed lose their roles in it."""
        async with api.write() as conn:
            await orgs.replace_members(conn, api.tenant, id, body.userIds)
        return Response(status_code=204)

    @router.delete("/organizations/{id}/users/{userId}", status_code=204, response_class=Response)
    async def delete_organization_user(id: str, userId: str) -> Response:
        async with api.write() as conn:
            await orgs.remove_member(conn, api.tenant, id, userId)
        return Response(status_code=204)

    # Members' roles --------------------------------------------------------------------------
    @router.get(
        "/organizations/{id}/users/{userId}/roles", response_model=list[OrganizationRoleOut]
    )
    async def list_organization_user_roles(id: str, userId: str) -> list[dict[str, Any]]:
        async with api.read() as conn:
            rows = await orgs.member_roles(conn, api.tenant, id, userId)
        return [organization_role_out(r) for r in rows]

    @router.post(
        "/organizations/{id}/users/{userId}/roles", status_code=201, response_class=Response
    )
    async def assign_organization_user_roles(
        id: str, userId: str, body: OrganizationRoleIds
    ) -> Response:
        """422 ``organization.require_membership`` when the user is not a member."""
        async with api.write() as conn:
            await orgs.assign_member_roles(conn, api.tenant, id, userId, body.organizationRoleIds)
        return Response(status_code=201)

    @router.put(
        "/organizations/{id}/users/{userId}/roles", status_code=204, response_class=Response
    )
    async def replace_organization_user_roles(
        id: str, userId: str, body: OrganizationRoleIds
    ) -> Response:
        async with api.write() as conn:
            await orgs.assign_member_roles(
                conn, api.tenant, id, userId, body.organizationRoleIds, replace=True
            )
        return Response(status_code=204)

    @router.delete(
        "/organizations/{id}/users/{userId}/roles/{roleId}",
        status_code=204,
        response_class=Response,
    )
    async def delete_organization_user_role(id: str, userId: str, roleId: str) -> Response:
        async with api.write() as conn:
            await orgs.remove_member_role(conn, api.tenant, id, userId, roleId)
        return Response(status_code=204)

    # A user's organizations ------------------------------------------------------------------
    @router.get("/users/{userId}/organizations", response_model=list[UserOrganizationOut])
    async def list_user_organizations(userId: str) -> list[dict[str, Any]]:
        """Each organization with the user's roles in it."""
        async with api.read() as conn:
            rows = await orgs.user_organizations(conn, api.tenant, userId)
        return [{**organization_out(r), "organizationRoles": r["organization_roles"]} for r in rows]

    return router
