"""The console's landing page: the first steps of the seed guides, in order, each marked done
once the tenant has it (an application, a connector, a sign-in experience of its own)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.services import sign_in_experience as sie_service
from portico.services.bootstrap import ACCOUNT_APP_ID
from portico.storage import applications as app_repo
from portico.storage import connectors as connector_repo
from portico.web.console.context import Console, page
from portico.web.console.frameworks import FRAMEWORKS
from portico.web.http import redirect
from portico.web.runtime import Runtime

SECTION = "get-started"


def _customized(stored: sie_service.SignInExperience, tenant_id: str) -> bool:
    """Whether the sign-in experience was saved with settings of its own (console or /api):
    what is stored differs from the seed. Read from the row itself, so it stays true for
    as long as the settings do (an audit entry would be purged with the log's retention)."""
    seeded = sie_service.seed_for(tenant_id)
    mine = stored.model_dump(mode="json", exclude={"tenantId"})
    return mine != seeded.model_dump(mode="json", exclude={"tenantId"})


async def index(ctx: Console) -> Response:
    async with ctx.read() as conn:
        # (the built-in application is Portico's, not one the admin made)
        app_count, _ = await app_repo.find_applications(
            conn, ctx.tenant, exclude_ids=[ACCOUNT_APP_ID], offset=0, limit=1
        )
        connectors = await connector_repo.list_connectors(conn, ctx.tenant)
        sign_in_experience = await sie_service.read(conn, ctx.tenant)
    return await ctx.render(
        "get_started.html",
        section=SECTION,
        has_app=app_count > 0,
        has_connector=bool(connectors),
        has_sign_in_experience=_customized(sign_in_experience, ctx.tenant),
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
