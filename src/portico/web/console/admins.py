"""Admins: the console's own users. Any admin may add another (username + initial password)
or hand out a single-use invitation link; Logto OSS allows only one admin (Logto #8086)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.services import users as user_service
from portico.services.bootstrap import ADMIN_TENANT
from portico.services.errors import ServiceError
from portico.storage import users as user_repo
from portico.web.console import auth
from portico.web.console.context import Console, form, page
from portico.web.console.credentials import create_admin
from portico.web.runtime import Runtime

SECTION = "admins"


async def _list(ctx: Console, status: int = 200, **values: object) -> Response:
    async with ctx.read() as conn:
        _, admins = await user_repo.find_users(conn, ADMIN_TENANT, offset=0, limit=200)
    return await ctx.render("admins.html", status=status, section=SECTION, admins=admins, **values)


async def index(ctx: Console) -> Response:
    return await _list(ctx)


async def create(ctx: Console) -> Response:
    username, password = ctx.field("username", 128).strip(), ctx.field("password", 1024)
    try:
        async with ctx.write() as conn:
            admin = await create_admin(conn, username, password, ctx.t.lang)
            await ctx.audit(
                conn, "CreateAdmin", tenant=ADMIN_TENANT, prefix="Console", user_id=admin["id"]
            )
    except ServiceError as error:
        return await _list(ctx, 400, error=error.message, username=username)
    ctx.flash(ctx.t("admins.created", name=username))
    return await ctx.redirect("/console/admins")


async def invite(ctx: Console) -> Response:
    link = await auth.create_invitation(ctx)
    async with ctx.write() as conn:
        await ctx.audit(conn, "CreateAdminInvitation", tenant=ADMIN_TENANT, prefix="Console")
    return await _list(ctx, invitation=link)


async def delete(ctx: Console) -> Response:
    admin_id = ctx.request.path_params["id"]
    if admin_id == ctx.admin["id"]:
        raise ServiceError(ctx.t("admins.not_yourself"), status=422)
    async with ctx.write() as conn:
        await user_service.get_user(conn, ADMIN_TENANT, admin_id)
        if await user_repo.count_users(conn, ADMIN_TENANT) <= 1:
            raise ServiceError(ctx.t("admins.not_the_last"), status=422)
        await user_service.delete_user(conn, ADMIN_TENANT, admin_id)
        await ctx.audit(
            conn, "DeleteAdmin", tenant=ADMIN_TENANT, prefix="Console", user_id=admin_id
        )
    ctx.flash(ctx.t("admins.deleted"))
    return await ctx.redirect("/console/admins")


def routes(runtime: Runtime) -> list[Route]:
    return [
        Route("/console/admins", page(runtime, index), methods=["GET"]),
        # Another admin is a lasting way in: like a delete, it needs the password again, so
        # a borrowed or stolen session cannot make one.
        Route("/console/admins", form(runtime, create, destructive=True), methods=["POST"]),
        Route(
            "/console/admins/invitations",
            form(runtime, invite, destructive=True),
            methods=["POST"],
        ),
        Route(
            "/console/admins/{id}/delete",
            form(runtime, delete, destructive=True),
            methods=["POST"],
        ),
    ]
