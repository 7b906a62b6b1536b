"""The console's landing page: the first steps of the seed guides, in order, each marked done
once the tenant has it (an application, a connector, a sign-in method)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.storage import applications as app_repo
from portico.storage import connectors as connector_repo
from portico.web.console.context import Console, page
from portico.web.console.frameworks import FRAMEWORKS
from portico.web.http import redirect
from portico.web.runtime import Runtime

SECTION = "get-started"


async def index(ctx: Console) -> Response:
    async with ctx.read() as conn:
        app_count, _ = await app_repo.find_applications(conn, ctx.tenant, offset=0, limit=1)
        connectors = await connector_repo.list_connectors(conn, ctx.tenant)
    return await ctx.render(
        "get_started.html",
        section=SECTION,
        has_app=app_count > 0,
        has_connector=bool(connectors),
        issuer=f"{ctx.endpoint}/oidc",
        frameworks=FRAMEWORKS[:4],
    )


def routes(runtime: Runtime) -> list[Route]:
    async def home(_: object) -> Response:
        return redirect("/console/get-started")

    return [
        Route("/console", home, methods=["GET"]),
        Route("/console/get-started", page(runtime, index), methods=["GET"]),
    ]
