"""``/api/organizations/:id/jit/email-domains``, ``/jit/sso-connectors`` and ``/jit/roles``:
the email domains and enterprise SSO connectors whose users join an organization just in
time, and the organization roles they get (Logto's paths, bodies, status codes and error
codes; lists paginated only on request)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AfterValidator, BaseModel, Field

from portico.services import organization_jit as jit
from portico.services import sso_connectors as sso
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import Body, Id, OrganizationRoleOut, organization_role_out

EmailDomain = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(jit.email_domain)]


class JitEmailDomain(Body):
    emailDomain: EmailDomain


class JitEmailDomains(Body):
    emailDomains: list[EmailDomain] = Field(max_length=1000)


class JitEmailDomainOut(BaseModel):
    tenantId: str
    organizationId: str
    emailDomain: str


class JitSsoConnectors(Body):
    ssoConnectorIds: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        max_length=100
    )


class AddJitRoles(Body):
    organizationRoleIds: list[Id] = Field(min_length=1, max_length=100)


class ReplaceJitRoles(Body):
    organizationRoleIds: list[Id] = Field(max_length=100)


def _email_domain_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenantId": row["tenant_id"],
        "organizationId": row["organization_id"],
        "emailDomain": row["email_domain"],
    }


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Organizations"])
    base = "/organizations/{id}/jit"

    # Email domains ---------------------------------------------------------------------------
    @router.get(f"{base}/email-domains", response_model=list[JitEmailDomainOut])
    async def list_organization_jit_email_domains(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination(optional=True))],
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            total, rows = await jit.email_domains(
                conn, api.tenant, id, offset=page.offset, limit=page.limit
            )
        paginate(request, response, page, total)
        return [_email_domain_out(r) for r in rows]

    @router.post(f"{base}/email-domains", response_model=JitEmailDomainOut, status_code=201)
    async def add_organization_jit_email_domain(id: str, body: JitEmailDomain) -> dict[str, Any]:
        """422 ``entity.unique_integrity_violation`` when the organization already has it."""
        async with api.write() as conn:
            row = await jit.add_email_domain(conn, api.tenant, id, body.emailDomain)
        return _email_domain_out(row)

    @router.put(f"{base}/email-domains", status_code=204, response_class=Response)
    async def replace_organization_jit_email_domains(id: str, body: JitEmailDomains) -> Response:
        async with api.write() as conn:
            await jit.replace_email_domains(conn, api.tenant, id, body.emailDomains)
        return Response(status_code=204)

    @router.delete(
        f"{base}/email-domains/{{emailDomain}}", status_code=204, response_class=Response
    )
    async def delete_organization_jit_email_domain(id: str, emailDomain: str) -> Response:
        """404 ``entity.not_found`` when the organization does not have it."""
        try:
            domain = jit.email_domain(emailDomain)
        except ValueError:
            domain = emailDomain  # cannot be stored: answers 404 below
        async with api.write() as conn:
            await jit.remove_email_domain(conn, api.tenant, id, domain)
        return Response(status_code=204)

    # SSO connectors --------------------------------------------------------------------------
    @router.get(f"{base}/sso-connectors", response_model=list[dict[str, Any]])
    async def list_organization_jit_sso_connectors(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination(optional=True))],
    ) -> list[dict[str, Any]]:
        """Logto's ``SsoConnector`` entities (secrets masked)."""
        async with api.read() as conn:
            total, rows = await jit.sso_connectors(
                conn, api.tenant, id, offset=page.offset, limit=page.limit
            )
        paginate(request, response, page, total)
        return [sso.connector_out(r) for r in rows]

    @router.post(f"{base}/sso-connectors", status_code=201, response_class=Response)
    async def add_organization_jit_sso_connectors(id: str, body: JitSsoConnectors) -> Response:
        """422 ``entity.relation_foreign_key_not_found`` for an unknown connector."""
        async with api.write() as conn:
            await jit.add_sso_connectors(conn, api.tenant, id, body.ssoConnectorIds)
        return Response(status_code=201)

    @router.put(f"{base}/sso-connectors", status_code=204, response_class=Response)
    async def replace_organization_jit_sso_connectors(id: str, body: JitSsoConnectors) -> Response:
        async with api.write() as conn:
            await jit.add_sso_connectors(conn, api.tenant, id, body.ssoConnectorIds, replace=True)
        return Response(status_code=204)

    @router.delete(
        f"{base}/sso-connectors/{{ssoConnectorId}}", status_code=204, response_class=Response
    )
    async def delete_organization_jit_sso_connector(id: str, ssoConnectorId: str) -> Response:
        async with api.write() as conn:
            await jit.remove_sso_connector(conn, api.tenant, id, ssoConnectorId)
        return Response(status_code=204)

    # Default roles ---------------------------------------------------------------------------
    @router.get(f"{base}/roles", response_model=list[OrganizationRoleOut])
    async def list_organization_jit_roles(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination(optional=True))],
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            total, rows = await jit.roles(
                conn, api.tenant, id, offset=page.offset, limit=page.limit
            )
        paginate(request, response, page, total)
        return [organization_role_out(r) for r in rows]

    @router.post(f"{base}/roles", status_code=201, response_class=Response)
    async def add_organization_jit_roles(id: str, body: AddJitRoles) -> Response:
        """Roles already there stay; 422 ``entity.relation_foreign_key_not_found`` when the
        organization or a role does not exist."""
        async with api.write() as conn:
            await jit.add_roles(conn, api.tenant, id, body.organizationRoleIds)
        return Response(status_code=201)

    @router.put(f"{base}/roles", status_code=204, response_class=Response)
    async def replace_organization_jit_roles(id: str, body: ReplaceJitRoles) -> Response:
        async with api.write() as conn:
            await jit.add_roles(conn, api.tenant, id, body.organizationRoleIds, replace=True)
        return Response(status_code=204)

    @router.delete(f"{base}/roles/{{organizationRoleId}}", status_code=204, response_class=Response)
    async def delete_organization_jit_role(id: str, organizationRoleId: str) -> Response:
        async with api.write() as conn:
            await jit.remove_role(conn, api.tenant, id, organizationRoleId)
        return Response(status_code=204)

    return router
