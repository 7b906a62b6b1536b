"""``/api/applications``: CRUD, secrets, custom data and machine-to-machine roles (Logto's
paths, bodies and status codes).

Secrets differ from Logto in one way: Portico stores a digest, so a secret's value appears once,
in the response that created it (``POST /applications`` for the Default secret as ``secret``,
``POST /applications/:id/secrets`` as ``value``); lists show ``valueHint`` instead.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from portico.services import applications as service
from portico.services import rbac
from portico.storage import applications as repo
from portico.storage import rbac as rbac_repo
from portico.storage.search import Search
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import (
    ApplicationDetailOut,
    ApplicationOut,
    Body,
    CustomClientMetadata,
    OidcClientMetadata,
    RoleIds,
    RoleIdsAdded,
    RoleIdsOut,
    RoleOut,
    SecretOut,
    application_out,
    role_out,
    secret_out,
)
from portico.web.api.search import search_query

AppTypeName = Literal["Native", "SPA", "Traditional", "MachineToMachine", "SAML"]


class CreateApplication(Body):
    name: str = Field(min_length=1, max_length=256)
    type: AppTypeName
    description: str | None = Field(None, max_length=4096)
    oidcClientMetadata: OidcClientMetadata | None = None
    customClientMetadata: CustomClientMetadata | None = None
    customData: dict[str, Any] | None = None
    isThirdParty: bool | None = None


class UpdateApplication(Body):
    name: str | None = Field(None, min_length=1, max_length=256)
    description: str | None = Field(None, max_length=4096)
    oidcClientMetadata: OidcClientMetadata | None = None
    customClientMetadata: CustomClientMetadata | None = None
    customData: dict[str, Any] | None = None


class CreateSecret(Body):
    name: str = Field(min_length=1, max_length=256)
    expiresAt: int | None = Field(None, description="epoch milliseconds, in the future")


class RenameSecret(Body):
    name: str = Field(min_length=1, max_length=256)


def _custom(model: CustomClientMetadata | None) -> dict[str, Any]:
    return model.model_dump(exclude_none=True) if model else {}


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Applications"])
    exclude_unset: dict[str, Any] = {"response_model_exclude_unset": True}

    @router.get("/applications", response_model=list[ApplicationOut], **exclude_unset)
    async def list_applications(
        request: Request,
        response: Response,
        page: Annotated[Page, Depends(pagination(optional=True))],
        search: Annotated[Search, Depends(search_query)],
        types: Annotated[list[AppTypeName] | None, Query()] = None,
        isThirdParty: Annotated[Literal["true", "false"] | None, Query()] = None,
        excludeRoleId: Annotated[str | None, Query(max_length=128)] = None,
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            total, rows = await repo.find_applications(
                conn,
                api.tenant,
                search=search,
                types=list(types) if types else None,
                is_third_party=None if isThirdParty is None else isThirdParty == "true",
                exclude_role_id=excludeRoleId,
                offset=page.offset,
                limit=page.limit,
            )
        paginate(request, response, page, total)
        return [application_out(r) for r in rows]

    @router.post("/applications", response_model=ApplicationOut, **exclude_unset)
    async def create_application(body: CreateApplication) -> dict[str, Any]:
        """The Default secret of a Traditional or machine-to-machine app is in ``secret``,
        this once."""
        oidc = body.oidcClientMetadata
        extras = oidc.model_dump(exclude_none=True) if oidc else {}
        async with api.write() as conn:
            created = await service.create_application(
                conn,
                api.tenant,
                name=body.name,
                app_type=service.AppType(body.type),
                redirect_uris=extras.pop("redirectUris", None),
                post_logout_redirect_uris=extras.pop("postLogoutRedirectUris", None),
                description=body.description,
                is_third_party=bool(body.isThirdParty),
                custom_client_metadata=_custom(body.customClientMetadata),
                custom_data=body.customData,
                oidc_extras=extras,
                sealer=api.runtime.secret_sealer,
            )
        return application_out(created.row, created.secret)

    @router.get("/applications/{id}", response_model=ApplicationDetailOut, **exclude_unset)
    async def get_application(id: str) -> dict[str, Any]:
        async with api.read() as conn:
            row = await service.get_application(conn, api.tenant, id)
        return {**application_out(row), "isAdmin": False}

    @router.patch("/applications/{id}", response_model=ApplicationOut, **exclude_unset)
    async def update_application(id: str, body: UpdateApplication) -> dict[str, Any]:
        """Members given replace the stored ones (JSON members are not merged)."""
        given = body.model_fields_set
        changes: dict[str, Any] = {}
        if "name" in given and body.name is not None:
            changes["name"] = body.name
        if "description" in given:
            changes["description"] = body.description
        if "oidcClientMetadata" in given and body.oidcClientMetadata is not None:
            changes["oidc_client_metadata"] = body.oidcClientMetadata.model_dump(exclude_none=True)
        if "customClientMetadata" in given:
            changes["custom_client_metadata"] = _custom(body.customClientMetadata)
        if "customData" in given:
            changes["custom_data"] = body.customData or {}
        async with api.write() as conn:
            row = await service.update_application(conn, api.tenant, id, changes)
        return application_out(row)

    @router.delete("/applications/{id}", status_code=204, response_class=Response)
    async def delete_application(id: str) -> Response:
        async with api.write() as conn:
            await service.delete_application(conn, api.tenant, id)
        return Response(status_code=204)

    @router.patch("/applications/{applicationId}/custom-data")
    async def update_application_custom_data(
        applicationId: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Top-level members of the body replace those of ``customData``; others stay."""
        async with api.write() as conn:
            return await service.merge_custom_data(conn, api.tenant, applicationId, body)

    # Secrets ---------------------------------------------------------------------------------
    @router.get("/applications/{id}/secrets", response_model=list[SecretOut], **exclude_unset)
    async def list_application_secrets(id: str) -> list[dict[str, Any]]:
        async with api.read() as conn:
            rows = await service.list_secrets(conn, api.tenant, id)
        return [secret_out(r) for r in rows]

    @router.post(
        "/applications/{id}/secrets",
        response_model=SecretOut,
        status_code=201,
        **exclude_unset,
    )
    async def create_application_secret(id: str, body: CreateSecret) -> dict[str, Any]:
        """The new secret's ``value`` is in this response only."""
        async with api.write() as conn:
            row, value = await service.create_secret(
                conn, api.tenant, id, body.name, body.expiresAt, api.runtime.secret_sealer
            )
        return secret_out(row, value)

    @router.patch("/applications/{id}/secrets/{name}", response_model=SecretOut, **exclude_unset)
    async def update_application_secret(id: str, name: str, body: RenameSecret) -> dict[str, Any]:
        async with api.write() as conn:
            row = await service.rename_secret(conn, api.tenant, id, name, body.name)
        return secret_out(row)

    @router.delete("/applications/{id}/secrets/{name}", status_code=204, response_class=Response)
    async def delete_application_secret(id: str, name: str) -> Response:
        async with api.write() as conn:
            await service.delete_secret(conn, api.tenant, id, name)
        return Response(status_code=204)

    # Machine-to-machine roles -------------------------------------------------------------
    @router.get("/applications/{applicationId}/roles", response_model=list[RoleOut])
    async def list_application_roles(
        request: Request,
        response: Response,
        applicationId: str,
        page: Annotated[Page, Depends(pagination())],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            app = await service.get_application(conn, api.tenant, applicationId)
            if app["type"] != service.AppType.M2M.value:
                raise service.InvalidApplication(
                    "Only machine-to-machine applications have roles.",
                    code="application.invalid_type",
                    status=422,
                )
            total, rows = await rbac_repo.find_roles(
                conn,
                api.tenant,
                search=search,
                application_id=applicationId,
                offset=page.offset or 0,
                limit=page.size,
            )
        paginate(request, response, page, total)
        return [role_out(r) for r in rows]

    @router.post(
        "/applications/{applicationId}/roles", response_model=RoleIdsAdded, status_code=201
    )
    async def assign_application_roles(applicationId: str, body: RoleIds) -> dict[str, Any]:
        """Roles already held are skipped; ``addedRoleIds`` lists what changed."""
        async with api.write() as conn:
            added = await rbac.assign_roles(
                conn, api.tenant, "application", applicationId, body.roleIds
            )
        return {"roleIds": body.roleIds, "addedRoleIds": added}

    @router.put("/applications/{applicationId}/roles", response_model=RoleIdsOut)
    async def replace_application_roles(applicationId: str, body: RoleIds) -> dict[str, Any]:
        """The application holds exactly these roles afterwards."""
        async with api.write() as conn:
            await rbac.assign_roles(
                conn, api.tenant, "application", applicationId, body.roleIds, replace=True
            )
        return {"roleIds": list(dict.fromkeys(body.roleIds))}

    @router.delete(
        "/applications/{applicationId}/roles/{roleId}", status_code=204, response_class=Response
    )
    async def delete_application_role(applicationId: str, roleId: str) -> Response:
        async with api.write() as conn:
            await rbac.unassign_role(conn, api.tenant, "application", applicationId, roleId)
        return Response(status_code=204)

    return router
