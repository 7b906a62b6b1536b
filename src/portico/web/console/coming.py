"""Sections the second part of the console fills in; until then each says so."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.web.console.context import Console, page
from portico.web.runtime import Runtime

COMING = {
    "audit-logs": "Audit logs",
    "signing-keys": "Signing keys",
}


def _placeholder(section: str, title: str):  # type: ignore[no-untyped-def]
    async def handler(ctx: Console) -> Response:
        return await ctx.render("coming.html", section=section, title=title)

    return handler


def routes(runtime: Runtime) -> list[Route]:
    return [
        Route(f"/console/{section}", page(runtime, _placeholder(section, title)), methods=["GET"])
        for section, title in COMING.items()
    ]
