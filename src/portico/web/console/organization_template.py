"""The organization template every organization of the ``default`` tenant shares: its
organization roles (User or MachineToMachine, chosen at creation; each granting organization
permissions and API permissions, the scopes of API resources other than the Management API,
as Logto's console offers them) and the organization permissions (Logto's "organization
scopes"); create, edit and delete both.

Each change writes the audit entry ``/api/organization-roles`` or
``/api/organization-scopes`` writes for it. Names are unique per tenant and permission names
hold no whitespace: the service says so, the form shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import Route

from portico.services import organizations as orgs
from portico.services import rbac
from portico.services.errors import ServiceError
from portico.storage import organizations as org_repo
from portico.storage import rbac as rbac_repo
from portico.web.console.context import Console, form, page
from portico.web.console.organization_details import DESCRIPTION_MAX, NAME_MAX, ids
from portico.web.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

SECTION = "organizations"
ROLES, SCOPES = "organization_roles", "organization_scopes"
BASE = "/console/organization-template"
LIST_LIMIT = 500  # roles or permissions one page lists (a template is small)
ROLE_TYPES = (orgs.ROLE_USER, orgs.ROLE_MACHINE_TO_MACHINE)


async def _template(ctx: Console, status: int = 200, **values: Any) -> Response:
    async with ctx.read() as conn:
        _, roles = await org_repo.find(conn, ROLES, ctx.tenant, limit=LIST_LIMIT)
        _, scopes = await org_repo.find(conn, SCOPES, ctx.tenant, limit=LIST_LIMIT)
        names = {s["id"]: s["name"] for s in scopes}
        for role in roles:
            granted = await org_repo.role_scope_ids(conn, role["id"])
            role["scope_names"] = sorted(names[s] for s in granted if s in names)
    return await ctx.render(
        "organization_template.html",
        status=status,
        section=SECTION,
        roles=roles,
        scopes=scopes,
        scope_groups=[(None, [(s["id"], s["name"]) for s in scopes])],
        **values,
    )


async def index(ctx: Console) -> Response:
    return await _template(ctx)


def _text(ctx: Console) -> tuple[str, str]:
    return (
        ctx.field("name", NAME_MAX + 1).strip(),
        ctx.field("description", DESCRIPTION_MAX + 1).strip(),
    )


def _check(ctx: Console, name: str, description: str) -> None:
    """/api's body limits for roles and permissions alike."""
    if not name:
        raise ServiceError(ctx.t("organization.name_required"))
    if len(name) > NAME_MAX:
        raise ServiceError(ctx.t("organization.too_long", count=NAME_MAX))
    if len(description) > DESCRIPTION_MAX:
        raise ServiceError(ctx.t("organization.too_long", count=DESCRIPTION_MAX))


# Roles -------------------------------------------------------------------------------------
async def create_role(ctx: Console) -> Response:
    name, description = _text(ctx)
    role_type = ctx.field("type", 32) or orgs.ROLE_USER
    try:
        _check(ctx, name, description)
        if role_type not in ROLE_TYPES:
            raise ServiceError(ctx.t("roles.pick_type"))
        async with ctx.write() as conn:
            role = await orgs.create_role(
                conn, ctx.tenant, name=name, description=description or None,
                role_type=role_type, scope_ids=ids(ctx, "scope_id"),
            )  # fmt: skip
            await ctx.audit(conn, "CreateOrganizationRole", params={"id": role["id"]}, status=201)
    except ServiceError as error:
        new_role = {"name": name, "description": description, "type": role_type}
        return await _template(ctx, 400, role_error=error.message, new_role=new_role)
    ctx.flash(ctx.t("org_template.role_created", name=name))
    return await ctx.redirect(f"{BASE}/roles/{role['id']}")


async def _api_permissions(ctx: Console, conn: AsyncConnection, role_id: str) -> dict[str, Any]:
    """The API-resource scopes the role grants, and the others offered, grouped by API."""
    _, granted = await org_repo.find_role_resource_scopes(conn, role_id)
    _, resources = await rbac_repo.list_resources(conn, ctx.tenant, None, None)
    offered = [r for r in resources if not rbac.is_management_api(r)]
    _, scopes = await rbac_repo.find_scopes(
        conn, ctx.tenant, resource_ids=[r["id"] for r in offered]
    )
    held, names = {s["id"] for s in granted}, {r["id"]: r["name"] for r in resources}
    groups = [
        (r["name"], [(s["id"], s["name"]) for s in scopes
                     if s["resource_id"] == r["id"] and s["id"] not in held])
        for r in offered
    ]  # fmt: skip
    return {
        "api_granted": [{**s, "resource_name": names.get(s["resource_id"], "")} for s in granted],
        "api_groups": [(name, options) for name, options in groups if options],
    }


async def _role(ctx: Console, role_id: str, status: int = 200, **values: Any) -> Response:
    async with ctx.read() as conn:
        role = await orgs.get(conn, ROLES, ctx.tenant, role_id)
        _, granted = await org_repo.find(conn, SCOPES, ctx.tenant, role_id=role_id)
        _, scopes = await org_repo.find(conn, SCOPES, ctx.tenant, limit=LIST_LIMIT)
        api = await _api_permissions(ctx, conn, role_id)
    held = {s["id"] for s in granted}
    offered = [(s["id"], s["name"]) for s in scopes if s["id"] not in held]
    return await ctx.render(
        "organization_role.html",
        status=status,
        section=SECTION,
        role=role,
        granted=granted,
        offered_groups=[(None, offered)],
        errors=values.pop("errors", {}),
        **api,
        **values,
    )


async def role_details(ctx: Console) -> Response:
    return await _role(ctx, ctx.request.path_params["id"])


async def _back_to_role(ctx: Console, role_id: str, message: str) -> Response:
    ctx.flash(message)
    return await ctx.redirect(f"{BASE}/roles/{role_id}")


async def update_role(ctx: Console) -> Response:
    role_id = ctx.request.path_params["id"]
    name, description = _text(ctx)
    try:
        _check(ctx, name, description)
        async with ctx.write() as conn:
            changes = {"name": name, "description": description or None}
            await orgs.update_role(conn, ctx.tenant, role_id, changes)
            await ctx.audit(conn, "UpdateOrganizationRole", params={"id": role_id}, status=200)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _role(ctx, role_id, 400, error=error.message)
    return await _back_to_role(ctx, role_id, ctx.t("role.saved"))


async def delete_role(ctx: Console) -> Response:
    """Only with the role's name typed again: members holding it lose it at once."""
    role_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        role = await orgs.get(conn, ROLES, ctx.tenant, role_id)
    if not ctx.name_typed(role["name"]):
        refused = ctx.t("role.delete_refused")
        return await _role(ctx, role_id, 400, errors={"confirm_name": refused})
    async with ctx.write() as conn:
        await orgs.delete(conn, ROLES, ctx.tenant, role_id)
        await ctx.audit(conn, "DeleteOrganizationRole", params={"id": role_id}, status=204)
    ctx.flash(ctx.t("role.deleted"))
    return await ctx.redirect(f"{BASE}#org-roles")


async def add_scopes(ctx: Console) -> Response:
    role_id = ctx.request.path_params["id"]
    scope_ids = ids(ctx, "scope_id")
    try:
        if not scope_ids:
            raise ServiceError(ctx.t("role.pick_permission"))
        async with ctx.write() as conn:
            await orgs.set_role_scopes(conn, ctx.tenant, role_id, scope_ids)
            await ctx.audit(conn, "AddOrganizationRoleScopes", params={"id": role_id}, status=201)
    except ServiceError as error:
        if error.status == 404 and error.message.startswith("The organization role "):
            raise
        return await _role(ctx, role_id, 400, error=error.message)
    return await _back_to_role(ctx, role_id, ctx.t("role.granted"))


async def remove_scope(ctx: Console) -> Response:
    role_id, scope_id = ctx.request.path_params["id"], ctx.request.path_params["scope"]
    async with ctx.write() as conn:
        await orgs.remove_role_scope(conn, ctx.tenant, role_id, scope_id)
        await ctx.audit(
            conn, "DeleteOrganizationRoleScope", params={"id": role_id, "scopeId": scope_id},
            status=204,
        )  # fmt: skip
    return await _back_to_role(ctx, role_id, ctx.t("role.permission_removed"))


async def add_resource_scopes(ctx: Console) -> Response:
    role_id = ctx.request.path_params["id"]
    scope_ids = ids(ctx, "resource_scope_id")
    try:
        if not scope_ids:
            raise ServiceError(ctx.t("role.pick_permission"))
        async with ctx.write() as conn:
            await orgs.set_role_resource_scopes(conn, ctx.tenant, role_id, scope_ids)
            await ctx.audit(
                conn, "AddOrganizationRoleResourceScopes", params={"id": role_id}, status=201
            )
    except ServiceError as error:
        if error.status == 404 and error.message.startswith("The organization role "):
            raise
        return await _role(ctx, role_id, 400, api_error=error.message)
    return await _back_to_role(ctx, role_id, ctx.t("role.granted"))


async def remove_resource_scope(ctx: Console) -> Response:
    role_id, scope_id = ctx.request.path_params["id"], ctx.request.path_params["scope"]
    async with ctx.write() as conn:
        await orgs.remove_role_resource_scope(conn, ctx.tenant, role_id, scope_id)
        await ctx.audit(
            conn, "DeleteOrganizationRoleResourceScope",
            params={"id": role_id, "scopeId": scope_id}, status=204,
        )  # fmt: skip
    return await _back_to_role(ctx, role_id, ctx.t("role.permission_removed"))


# Permissions (organization scopes) ---------------------------------------------------------
async def create_scope(ctx: Console) -> Response:
    name, description = _text(ctx)
    try:
        _check(ctx, name, description)
        async with ctx.write() as conn:
            scope = await orgs.create_scope(
                conn, ctx.tenant, name=name, description=description or None
            )
            await ctx.audit(conn, "CreateOrganizationScope", params={"id": scope["id"]}, status=201)
    except ServiceError as error:
        new_scope = {"name": name, "description": description}
        return await _template(ctx, 400, scope_error=error.message, new_scope=new_scope)
    ctx.flash(ctx.t("org_template.permission_created", name=name))
    return await ctx.redirect(f"{BASE}#org-permissions")


async def _scope(ctx: Console, scope_id: str, status: int = 200, **values: Any) -> Response:
    async with ctx.read() as conn:
        scope = await orgs.get(conn, SCOPES, ctx.tenant, scope_id)
    return await ctx.render(
        "organization_scope.html",
        status=status,
        section=SECTION,
        scope=scope,
        errors=values.pop("errors", {}),
        **values,
    )


async def scope_details(ctx: Console) -> Response:
    return await _scope(ctx, ctx.request.path_params["id"])


async def update_scope(ctx: Console) -> Response:
    scope_id = ctx.request.path_params["id"]
    name, description = _text(ctx)
    try:
        _check(ctx, name, description)
        async with ctx.write() as conn:
            changes = {"name": name, "description": description or None}
            await orgs.update_scope(conn, ctx.tenant, scope_id, changes)
            await ctx.audit(conn, "UpdateOrganizationScope", params={"id": scope_id}, status=200)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _scope(ctx, scope_id, 400, error=error.message)
    ctx.flash(ctx.t("org_template.permission_saved"))
    return await ctx.redirect(f"{BASE}/permissions/{scope_id}")


async def delete_scope(ctx: Console) -> Response:
    """Only with the permission's name typed again: every role granting it loses it."""
    scope_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        scope = await orgs.get(conn, SCOPES, ctx.tenant, scope_id)
    if not ctx.name_typed(scope["name"]):
        refused = ctx.t("org_template.permission_delete_refused")
        return await _scope(ctx, scope_id, 400, errors={"confirm_name": refused})
    async with ctx.write() as conn:
        await orgs.delete(conn, SCOPES, ctx.tenant, scope_id)
        await ctx.audit(conn, "DeleteOrganizationScope", params={"id": scope_id}, status=204)
    ctx.flash(ctx.t("org_template.permission_deleted", name=scope["name"]))
    return await ctx.redirect(f"{BASE}#org-permissions")


def routes(runtime: Runtime) -> list[Route]:
    role, scope = f"{BASE}/roles/{{id}}", f"{BASE}/permissions/{{id}}"
    return [
        Route(BASE, page(runtime, index), methods=["GET"]),
        Route(f"{BASE}/roles", form(runtime, create_role), methods=["POST"]),
        Route(role, page(runtime, role_details), methods=["GET"]),
        Route(role, form(runtime, update_role), methods=["POST"]),
        Route(f"{role}/delete", form(runtime, delete_role, destructive=True), methods=["POST"]),
        Route(f"{role}/scopes", form(runtime, add_scopes), methods=["POST"]),
        Route(f"{role}/scopes/{{scope}}/delete", form(runtime, remove_scope), methods=["POST"]),
        Route(f"{role}/resource-scopes", form(runtime, add_resource_scopes), methods=["POST"]),
        Route(
            f"{role}/resource-scopes/{{scope}}/delete",
            form(runtime, remove_resource_scope),
            methods=["POST"],
        ),
        Route(f"{BASE}/permissions", form(runtime, create_scope), methods=["POST"]),
        Route(scope, page(runtime, scope_details), methods=["GET"]),
        Route(scope, form(runtime, update_scope), methods=["POST"]),
        Route(f"{scope}/delete", form(runtime, delete_scope, destructive=True), methods=["POST"]),
    ]
