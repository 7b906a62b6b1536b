"""Roles of the ``default`` tenant: list (with how many users or applications hold each),
create (User or MachineToMachine), details: permissions picked from the API resources'
scopes, the users or applications holding the role, delete.

Each change writes the audit entry ``/api/roles`` writes for it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.services import rbac
from portico.services.errors import ServiceError
from portico.storage import applications as apps_repo
from portico.storage import rbac as rbac_repo
from portico.storage import search as search_sql
from portico.storage import users as user_repo
from portico.web.console.context import Console, form, page
from portico.web.runtime import Runtime

SECTION = "roles"
PICK_LIMIT = 100  # users or applications offered in a role's "add" list
MAX_IDS = 100  # ids one form may carry, as /api's bodies allow


async def _list(ctx: Console, status: int = 200, **values: Any) -> Response:
    async with ctx.read() as conn:
        _, rows = await rbac_repo.find_roles(conn, ctx.tenant, limit=500)
        ids = [r["id"] for r in rows]
        users = await rbac_repo.role_members(conn, "users_roles", ids)
        apps = await rbac_repo.role_members(conn, "applications_roles", ids)
    listed = [{**r, "holders": (users if r["type"] == "User" else apps)[r["id"]][0]} for r in rows]
    return await ctx.render("roles.html", status=status, section=SECTION, roles=listed, **values)


async def index(ctx: Console) -> Response:
    return await _list(ctx)


async def create(ctx: Console) -> Response:
    name = ctx.field("name", 200).strip()
    description = ctx.field("description", 200).strip()
    kind = ctx.field("type", 32)
    try:
        if kind not in (rbac.RoleType.USER.value, rbac.RoleType.M2M.value):
            raise ServiceError(ctx.t("roles.pick_type"))
        rbac.check_role_values(name, description)
        async with ctx.write() as conn:
            role = await rbac.create_role(
                conn,
                ctx.tenant,
                name=name,
                description=description,
                role_type=rbac.RoleType(kind),
            )
            await ctx.audit(conn, "CreateRole", params={"id": role["id"]}, status=200)
    except ServiceError as error:
        new = {"name": name, "description": description, "type": kind}
        return await _list(ctx, 400, error=error.message, new=new)
    ctx.flash(ctx.t("roles.created"))
    return await ctx.redirect(f"/console/roles/{role['id']}")


def _holder_name(holder: dict[str, Any], is_user_role: bool) -> str:
    if not is_user_role:
        return str(holder["name"])
    shown = holder.get("name") or holder.get("username") or holder.get("primary_email")
    return f"{shown or holder.get('primary_phone') or holder['id']} ({holder['id']})"


async def _details(ctx: Console, role_id: str, status: int = 200, **values: Any) -> Response:
    """``?find=``: the candidates to assign are searched (else the newest without the role)."""
    find = ctx.request.query_params.get("find", "").strip()[:128]
    search = search_sql.parse([("search", f"%{find}%")]) if find else None
    async with ctx.read() as conn:
        role = await rbac.get_role(conn, ctx.tenant, role_id)
        _, granted = await rbac_repo.find_scopes(conn, ctx.tenant, role_id=role_id)
        _, resources = await rbac_repo.list_resources(conn, ctx.tenant, None, None)
        _, scopes = await rbac_repo.find_scopes(conn, ctx.tenant)
        is_user_role = role["type"] == rbac.RoleType.USER.value
        if is_user_role:
            _, holders = await user_repo.find_users(conn, ctx.tenant, role_id=role_id, limit=200)
            _, candidates = await user_repo.find_users(
                conn, ctx.tenant, exclude_role_id=role_id, limit=PICK_LIMIT, search=search
            )
        else:
            _, holders = await apps_repo.find_applications(
                conn, ctx.tenant, role_id=role_id, limit=200
            )
            _, candidates = await apps_repo.find_applications(
                conn,
                ctx.tenant,
                types=["MachineToMachine"],
                exclude_role_id=role_id,
                limit=PICK_LIMIT,
                search=search,
            )
    granted_ids = {s["id"] for s in granted}
    names = {r["id"]: r for r in resources}
    # Offered permissions, grouped by API; Management API scopes only to M2M roles.
    offered = [
        (r, [s for s in scopes if s["resource_id"] == r["id"] and s["id"] not in granted_ids])
        for r in resources
        if not (is_user_role and rbac.is_management_api(r))
    ]
    return await ctx.render(
        "role.html",
        status=status,
        section=SECTION,
        role=role,
        is_user_role=is_user_role,
        granted=[{**s, "resource": names.get(s["resource_id"])} for s in granted],
        offered=[(r, s) for r, s in offered if s],
        offered_groups=[(r["name"], [(s["id"], s["name"]) for s in s_]) for r, s_ in offered if s_],
        holders=holders,
        candidates=candidates,
        holder_groups=[(None, [(c["id"], _holder_name(c, is_user_role)) for c in candidates])],
        find=find,
        **values,
    )


async def details(ctx: Console) -> Response:
    return await _details(ctx, ctx.request.path_params["id"])


async def _back(ctx: Console, role_id: str, message: str) -> Response:
    ctx.flash(message)
    return await ctx.redirect(f"/console/roles/{role_id}")


async def update(ctx: Console) -> Response:
    role_id = ctx.request.path_params["id"]
    name = ctx.field("name", 200).strip()
    description = ctx.field("description", 200).strip() or name
    changes: dict[str, Any] = {"name": name, "description": description}
    try:
        rbac.check_role_values(name, description)
        async with ctx.write() as conn:
            role = await rbac.get_role(conn, ctx.tenant, role_id)
            if role["type"] == rbac.RoleType.USER.value:
                changes["is_default"] = ctx.checked("is_default")
            await rbac.update_role(conn, ctx.tenant, role_id, changes)
            await ctx.audit(conn, "UpdateRole", params={"id": role_id}, status=200)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _details(ctx, role_id, 400, error=error.message)
    return await _back(ctx, role_id, ctx.t("role.saved"))


async def delete(ctx: Console) -> Response:
    """Only with the role's name typed again: a wrong or missing name deletes nothing (its
    holders would lose its permissions at once)."""
    role_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        role = await rbac.get_role(conn, ctx.tenant, role_id)
    if not ctx.name_typed(role["name"]):
        refused = ctx.t("role.delete_refused")
        return await _details(ctx, role_id, 400, errors={"confirm_name": refused})
    async with ctx.write() as conn:
        await rbac.delete_role(conn, ctx.tenant, role_id)
        await ctx.audit(conn, "DeleteRole", params={"id": role_id}, status=204)
    ctx.flash(ctx.t("role.deleted"))
    return await ctx.redirect("/console/roles")


async def add_scopes(ctx: Console) -> Response:
    role_id = ctx.request.path_params["id"]
    scope_ids = [s[:128] for s in ctx.values("scope_id")][:MAX_IDS]
    try:
        if not scope_ids:
            raise ServiceError(ctx.t("role.pick_permission"))
        async with ctx.write() as conn:
            await rbac.add_role_scopes(conn, ctx.tenant, role_id, scope_ids)
            await ctx.audit(conn, "CreateRoleScope", params={"id": role_id}, status=201)
    except ServiceError as error:
        if error.status == 404 and error.message.startswith("The role "):
            raise
        return await _details(ctx, role_id, 400, error=error.message)
    return await _back(ctx, role_id, ctx.t("role.granted"))


async def remove_scope(ctx: Console) -> Response:
    role_id, scope_id = ctx.request.path_params["id"], ctx.request.path_params["scope"]
    async with ctx.write() as conn:
        await rbac.remove_role_scope(conn, ctx.tenant, role_id, scope_id)
        await ctx.audit(
            conn, "DeleteRoleScope", params={"id": role_id, "scopeId": scope_id}, status=204
        )
    return await _back(ctx, role_id, ctx.t("role.permission_removed"))


def _kind(role: dict[str, Any]) -> str:
    return "user" if role["type"] == rbac.RoleType.USER.value else "application"


async def add_holders(ctx: Console) -> Response:
    role_id = ctx.request.path_params["id"]
    holder_ids = [h[:128] for h in ctx.values("holder_id")][:MAX_IDS]
    try:
        if not holder_ids:
            raise ServiceError(ctx.t("role.pick_holder"))
        async with ctx.write() as conn:
            kind = _kind(await rbac.get_role(conn, ctx.tenant, role_id))
            await rbac.add_role_holders(conn, ctx.tenant, role_id, kind, holder_ids)
            operation = "CreateRoleUser" if kind == "user" else "CreateRoleApplication"
            await ctx.audit(conn, operation, params={"id": role_id}, status=201)
    except ServiceError as error:
        if error.status == 404 and error.message.startswith("The role "):
            raise
        return await _details(ctx, role_id, 400, error=error.message)
    return await _back(ctx, role_id, ctx.t("role.assigned"))


async def remove_holder(ctx: Console) -> Response:
    role_id, holder_id = ctx.request.path_params["id"], ctx.request.path_params["holder"]
    async with ctx.write() as conn:
        kind = _kind(await rbac.get_role(conn, ctx.tenant, role_id))
        await rbac.unassign_role(conn, ctx.tenant, kind, holder_id, role_id)
        if kind == "user":
            await ctx.audit(
                conn,
                "DeleteRoleUser",
                user_id=holder_id,
                params={"id": role_id, "userId": holder_id},
                status=204,
            )
        else:
            await ctx.audit(
                conn,
                "DeleteRoleApplication",
                application_id=holder_id,
                params={"id": role_id, "applicationId": holder_id},
                status=204,
            )
    return await _back(ctx, role_id, ctx.t("role.taken_away"))


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/roles/{id}"
    return [
        Route("/console/roles", page(runtime, index), methods=["GET"]),
        Route("/console/roles", form(runtime, create), methods=["POST"]),
        Route(base, page(runtime, details), methods=["GET"]),
        Route(base, form(runtime, update), methods=["POST"]),
        Route(f"{base}/delete", form(runtime, delete, destructive=True), methods=["POST"]),
        Route(f"{base}/scopes", form(runtime, add_scopes), methods=["POST"]),
        Route(f"{base}/scopes/{{scope}}/delete", form(runtime, remove_scope), methods=["POST"]),
        Route(f"{base}/holders", form(runtime, add_holders), methods=["POST"]),
        Route(f"{base}/holders/{{holder}}/delete", form(runtime, remove_holder), methods=["POST"]),
    ]
