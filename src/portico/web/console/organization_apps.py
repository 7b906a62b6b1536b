"""The "Machine-to-machine apps" tab of an organization: applications as members (found on the
server with ``?find_app=``, machine-to-machine ones only), their MachineToMachine
organization roles, removal.

Each change writes the audit entry ``/api/organizations/:id/applications`` writes for it;
adding applications with roles is one transaction, as adding users with roles is."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.services import organizations as orgs
from portico.services.errors import ServiceError
from portico.web.console.context import Console, form
from portico.web.console.organization_details import gone, ids, render
from portico.web.runtime import Runtime

TAB = "org-apps"


async def _back(ctx: Console, org_id: str, message: str) -> Response:
    ctx.flash(message)
    return await ctx.redirect(f"/console/organizations/{org_id}#{TAB}")


async def _refused(ctx: Console, org_id: str, error: ServiceError) -> Response:
    if gone(error):
        raise error
    return await render(ctx, org_id, 400, errors={"apps": error.message}, tab=TAB)


async def add(ctx: Console) -> Response:
    """As /api: one ``AddOrganizationApplications``, then one
    ``AssignOrganizationApplicationRoles`` per application when roles were picked."""
    org_id = ctx.request.path_params["id"]
    app_ids, role_ids = ids(ctx, "application_id"), ids(ctx, "role_id")
    try:
        if not app_ids:
            raise ServiceError(ctx.t("organization.pick_app"))
        async with ctx.write() as conn:
            await orgs.get(conn, "organizations", ctx.tenant, org_id)
            await orgs.add_app_members(conn, ctx.tenant, org_id, app_ids)
            await ctx.audit(conn, "AddOrganizationApplications", params={"id": org_id}, status=201)
            for app_id in app_ids if role_ids else []:
                await orgs.assign_app_roles(conn, ctx.tenant, org_id, [app_id], role_ids)
                await ctx.audit(
                    conn, "AssignOrganizationApplicationRoles", application_id=app_id,
                    params={"id": org_id, "applicationId": app_id}, status=201,
                )  # fmt: skip
    except ServiceError as error:
        return await _refused(ctx, org_id, error)
    return await _back(ctx, org_id, ctx.t("organization.apps_added"))


async def remove(ctx: Console) -> Response:
    """The application's roles in the organization go with the membership."""
    org_id, app_id = ctx.request.path_params["id"], ctx.request.path_params["app"]
    async with ctx.write() as conn:
        await orgs.get(conn, "organizations", ctx.tenant, org_id)
        await orgs.remove_app_member(conn, ctx.tenant, org_id, app_id)
        await ctx.audit(
            conn, "DeleteOrganizationApplication", application_id=app_id,
            params={"id": org_id, "applicationId": app_id}, status=204,
        )  # fmt: skip
    return await _back(ctx, org_id, ctx.t("organization.app_removed"))


async def assign_roles(ctx: Console) -> Response:
    org_id, app_id = ctx.request.path_params["id"], ctx.request.path_params["app"]
    role_ids = ids(ctx, "role_id")
    try:
        if not role_ids:
            raise ServiceError(ctx.t("user.pick_role"))
        async with ctx.write() as conn:
            await orgs.get(conn, "organizations", ctx.tenant, org_id)
            await orgs.assign_app_roles(conn, ctx.tenant, org_id, [app_id], role_ids)
            await ctx.audit(
                conn, "AssignOrganizationApplicationRoles", application_id=app_id,
                params={"id": org_id, "applicationId": app_id}, status=201,
            )  # fmt: skip
    except ServiceError as error:
        return await _refused(ctx, org_id, error)
    return await _back(ctx, org_id, ctx.t("user.roles_assigned"))


async def remove_role(ctx: Console) -> Response:
    params = ctx.request.path_params
    org_id, app_id, role_id = params["id"], params["app"], params["role"]
    async with ctx.write() as conn:
        await orgs.get(conn, "organizations", ctx.tenant, org_id)
        await orgs.remove_app_role(conn, ctx.tenant, org_id, app_id, role_id)
        await ctx.audit(
            conn, "DeleteOrganizationApplicationRole", application_id=app_id,
            params={"id": org_id, "applicationId": app_id, "organizationRoleId": role_id},
            status=204,
        )  # fmt: skip
    return await _back(ctx, org_id, ctx.t("user.role_removed"))


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/organizations/{id}/applications"
    app = f"{base}/{{app}}"
    return [
        Route(base, form(runtime, add), methods=["POST"]),
        Route(f"{app}/delete", form(runtime, remove), methods=["POST"]),
        Route(f"{app}/roles", form(runtime, assign_roles), methods=["POST"]),
        Route(f"{app}/roles/{{role}}/delete", form(runtime, remove_role), methods=["POST"]),
    ]
