"""The "Just-in-time provisioning" tab of an organization: the email domains whose users join
it when they sign up or sign in with a verified address, and the User organization roles they
get (``services/organization_jit``).

Each change writes the audit entry ``/api/organizations/:id/jit`` writes for it. A domain is
stored in the one form the service gives it (``ACME.com`` and ``acme.com`` are one domain)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.services import organization_jit as jit
from portico.services import organizations as orgs
from portico.services.errors import ServiceError
from portico.web.console.context import Console, form
from portico.web.console.organization_details import KIND, gone, ids, render
from portico.web.runtime import Runtime

TAB = "org-jit"


async def _back(ctx: Console, org_id: str, message: str) -> Response:
    ctx.flash(message)
    return await ctx.redirect(f"/console/organizations/{org_id}#{TAB}")


async def add_domain(ctx: Console) -> Response:
    org_id = ctx.request.path_params["id"]
    typed = ctx.field("email_domain", 512).strip()
    try:
        domain = jit.email_domain(typed)
    except ValueError:
        refused = {"email_domain": ctx.t("organization.jit_domain_invalid")}
        return await render(ctx, org_id, 400, errors=refused, jit_typed=typed, tab=TAB)
    try:
        async with ctx.write() as conn:
            await orgs.get(conn, KIND, ctx.tenant, org_id)
            await jit.add_email_domain(conn, ctx.tenant, org_id, domain)
            await ctx.audit(
                conn, "AddOrganizationJitEmailDomain", params={"id": org_id}, status=201
            )
    except ServiceError as error:
        if error.code != "entity.unique_integrity_violation":
            raise
        taken = {"email_domain": ctx.t("organization.jit_domain_taken", domain=domain)}
        return await render(ctx, org_id, 400, errors=taken, jit_typed=typed, tab=TAB)
    return await _back(ctx, org_id, ctx.t("organization.jit_domain_added", domain=domain))


async def remove_domain(ctx: Console) -> Response:
    org_id, domain = ctx.request.path_params["id"], ctx.request.path_params["domain"]
    async with ctx.write() as conn:
        await orgs.get(conn, KIND, ctx.tenant, org_id)
        await jit.remove_email_domain(conn, ctx.tenant, org_id, domain)
        await ctx.audit(
            conn, "DeleteOrganizationJitEmailDomain",
            params={"id": org_id, "emailDomain": domain}, status=204,
        )  # fmt: skip
    return await _back(ctx, org_id, ctx.t("organization.jit_domain_removed", domain=domain))


async def add_roles(ctx: Console) -> Response:
    """User roles only, as Logto's console offers (a machine-to-machine role cannot be a
    user's): a role of the other type is refused with the service's message."""
    org_id = ctx.request.path_params["id"]
    role_ids = ids(ctx, "role_id")
    try:
        if not role_ids:
            raise ServiceError(ctx.t("user.pick_role"))
        async with ctx.write() as conn:
            await orgs.get(conn, KIND, ctx.tenant, org_id)
            for role_id in role_ids:
                role = await orgs.get(conn, "organization_roles", ctx.tenant, role_id)
                if role["type"] != orgs.ROLE_USER:
                    raise ServiceError(ctx.t("organization.jit_user_roles_only", role=role["name"]))
            await jit.add_roles(conn, ctx.tenant, org_id, role_ids)
            await ctx.audit(conn, "AddOrganizationJitRoles", params={"id": org_id}, status=201)
    except ServiceError as error:
        if gone(error):
            raise
        return await render(ctx, org_id, 400, errors={"jit_roles": error.message}, tab=TAB)
    return await _back(ctx, org_id, ctx.t("organization.jit_roles_added"))


async def remove_role(ctx: Console) -> Response:
    org_id, role_id = ctx.request.path_params["id"], ctx.request.path_params["role"]
    async with ctx.write() as conn:
        await orgs.get(conn, KIND, ctx.tenant, org_id)
        await jit.remove_role(conn, ctx.tenant, org_id, role_id)
        await ctx.audit(
            conn, "DeleteOrganizationJitRole",
            params={"id": org_id, "organizationRoleId": role_id}, status=204,
        )  # fmt: skip
    return await _back(ctx, org_id, ctx.t("organization.jit_role_removed"))


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/organizations/{id}/jit"
    return [
        Route(f"{base}/email-domains", form(runtime, add_domain), methods=["POST"]),
        Route(
            f"{base}/email-domains/{{domain}}/delete",
            form(runtime, remove_domain),
            methods=["POST"],
        ),
        Route(f"{base}/roles", form(runtime, add_roles), methods=["POST"]),
        Route(f"{base}/roles/{{role}}/delete", form(runtime, remove_role), methods=["POST"]),
    ]
