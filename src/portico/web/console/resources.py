"""API resources of the ``default`` tenant and their permissions (scopes): list, create,
details (name and token lifetime, permissions added and deleted, default resource), delete.
The Management API resource is shown read-only; ``services/rbac`` refuses changes to it.

Each change writes the audit entry ``/api/resources`` writes for it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.services import rbac
from portico.services.errors import ServiceError
from portico.storage import rbac as rbac_repo
from portico.web.console.context import Console, form, page
from portico.web.runtime import Runtime

SECTION = "api-resources"


def _ttl(ctx: Console) -> int:
    raw = ctx.field("access_token_ttl", 16).strip() or "3600"
    if not raw.isdigit():
        raise ServiceError(ctx.t("resources.ttl_whole"))
    return int(raw)


async def _list(ctx: Console, status: int = 200, **values: Any) -> Response:
    async with ctx.read() as conn:
        _, rows = await rbac_repo.list_resources(conn, ctx.tenant, None, None)
    return await ctx.render(
        "resources.html",
        status=status,
        section=SECTION,
        resources=[{**r, "reserved": rbac.is_management_api(r)} for r in rows],
        **values,
    )


async def index(ctx: Console) -> Response:
    return await _list(ctx)


async def create(ctx: Console) -> Response:
    name = ctx.field("name", 300).strip()
    indicator = ctx.field("indicator", 2100).strip()
    try:
        ttl = _ttl(ctx)
        rbac.check_resource_values(name, ttl)
        async with ctx.write() as conn:
            row = await rbac.create_resource(
                conn, ctx.tenant, indicator=indicator, name=name, access_token_ttl=ttl
            )
            await ctx.audit(conn, "CreateResource", params={"id": row["id"]}, status=201)
    except ServiceError as error:
        new = {"name": name, "indicator": indicator, "ttl": ctx.field("access_token_ttl", 16)}
        return await _list(ctx, 400, error=error.message, new=new)
    ctx.flash(ctx.t("resources.created"))
    return await ctx.redirect(f"/console/api-resources/{row['id']}")


async def _details(ctx: Console, resource_id: str, status: int = 200, **values: Any) -> Response:
    async with ctx.read() as conn:
        resource = await rbac.get_resource(conn, ctx.tenant, resource_id)
        _, scopes = await rbac_repo.find_scopes(conn, ctx.tenant, resource_id=resource_id)
    return await ctx.render(
        "resource.html",
        status=status,
        section=SECTION,
        resource=resource,
        reserved=rbac.is_management_api(resource),
        scopes=scopes,
        **values,
    )


async def details(ctx: Console) -> Response:
    return await _details(ctx, ctx.request.path_params["id"])


async def _changed(ctx: Console, resource_id: str, message: str) -> Response:
    ctx.flash(message)
    return await ctx.redirect(f"/console/api-resources/{resource_id}")


async def update(ctx: Console) -> Response:
    resource_id = ctx.request.path_params["id"]
    name = ctx.field("name", 300).strip()
    try:
        ttl = _ttl(ctx)
        rbac.check_resource_values(name, ttl)
        async with ctx.write() as conn:
            await rbac.update_resource(
                conn, ctx.tenant, resource_id, {"name": name, "access_token_ttl": ttl}
            )
            await ctx.audit(conn, "UpdateResource", params={"id": resource_id}, status=200)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _details(ctx, resource_id, 400, error=error.message)
    return await _changed(ctx, resource_id, "API resource saved.")


async def set_default(ctx: Console) -> Response:
    resource_id = ctx.request.path_params["id"]
    is_default = ctx.field("is_default") == "true"
    async with ctx.write() as conn:
        await rbac.set_default_resource(conn, ctx.tenant, resource_id, is_default)
        await ctx.audit(conn, "UpdateResourceIsDefault", params={"id": resource_id}, status=200)
    message = ctx.t("resource.now_default" if is_default else "resource.no_longer_default")
    return await _changed(ctx, resource_id, message)


async def delete(ctx: Console) -> Response:
    """Only with the API resource's name typed again (as Logto's console asks): a wrong or
    missing name deletes nothing (tokens for the API stop being issued once it is gone)."""
    resource_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        resource = await rbac.get_resource(conn, ctx.tenant, resource_id)
    # (the Management API's own resource is refused by the service, whatever is typed)
    if not ctx.name_typed(resource["name"]) and not rbac.is_management_api(resource):
        refused = ctx.t("resource.delete_refused")
        return await _details(ctx, resource_id, 400, errors={"confirm_name": refused})
    async with ctx.write() as conn:
        await rbac.delete_resource(conn, ctx.tenant, resource_id)
        await ctx.audit(conn, "DeleteResource", params={"id": resource_id}, status=204)
    ctx.flash(ctx.t("resource.deleted"))
    return await ctx.redirect("/console/api-resources")


async def add_scope(ctx: Console) -> Response:
    resource_id = ctx.request.path_params["id"]
    name = ctx.field("name", 300).strip()
    description = ctx.field("description", 4096).strip() or None
    try:
        async with ctx.write() as conn:
            scope = await rbac.create_scope(conn, ctx.tenant, resource_id, name, description)
            await ctx.audit(
                conn,
                "CreateResourceScope",
                params={"resourceId": resource_id, "scopeId": scope["id"]},
                status=201,
            )
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _details(
            ctx,
            resource_id,
            400,
            error=error.message,
            new_scope={"name": name, "description": description},
        )
    return await _changed(ctx, resource_id, ctx.t("resource.scope_added", name=name))


async def delete_scope(ctx: Console) -> Response:
    resource_id, scope_id = ctx.request.path_params["id"], ctx.request.path_params["scope"]
    async with ctx.write() as conn:
        await rbac.delete_scope(conn, ctx.tenant, resource_id, scope_id)
        await ctx.audit(
            conn,
            "DeleteResourceScope",
            params={"resourceId": resource_id, "scopeId": scope_id},
            status=204,
        )
    return await _changed(ctx, resource_id, ctx.t("resource.scope_deleted"))


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/api-resources/{id}"
    return [
        Route("/console/api-resources", page(runtime, index), methods=["GET"]),
        Route("/console/api-resources", form(runtime, create), methods=["POST"]),
        Route(base, page(runtime, details), methods=["GET"]),
        Route(base, form(runtime, update), methods=["POST"]),
        Route(f"{base}/default", form(runtime, set_default), methods=["POST"]),
        Route(f"{base}/delete", form(runtime, delete, destructive=True), methods=["POST"]),
        Route(f"{base}/scopes", form(runtime, add_scope), methods=["POST"]),
        Route(
            f"{base}/scopes/{{scope}}/delete",
            form(runtime, delete_scope, destructive=True),
            methods=["POST"],
        ),
    ]
