"""The hosted sign-in pages (server-rendered, translated, usable without JavaScript).

Each module is one group of pages; ``steps`` holds what they share and ``advance`` decides
where an interaction goes next. All state lives in the interaction artifact (``exp``), so a
flow may continue on any process.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portico.services import organizations
from portico.web.experience import (
    codes,
    consent,
    mfa,
    profile,
    recovery,
    register,
    sign_in,
    social,
    sso,
    theme,
)
from portico.web.experience.context import ORG, TENANT
from portico.web.runtime import Runtime


def routes(runtime: Runtime) -> list[Route]:
    async def theme_css(request: Request) -> Response:
        """The tenant's colours (and custom CSS) as a stylesheet from our own origin, so the
        pages' CSP needs no inline styles; ``?organization_id=``: with that organization's
        over them (the pages of an authorization request naming it link here)."""
        assert runtime.experiences is not None and runtime.provider is not None
        sie = await runtime.experiences.get(TENANT)
        if org_id := request.query_params.get(ORG, "")[:64]:
            async with runtime.provider.engine.connect() as conn:
                sie = await organizations.branded_experience(conn, TENANT, sie, org_id)
        color = sie.color
        css = theme.stylesheet(
            color.primaryColor, color.darkPrimaryColor, color.isDarkModeEnabled, sie.customCss or ""
        )
        return Response(
            css, media_type="text/css", headers={"Cache-Control": "no-cache, max-age=0"}
        )

    async def related_origins(_: Request) -> Response:
        """WebAuthn related origins: where else passkeys of this server's RP ID may be
        created (``PORTICO_WEBAUTHN_RELATED_ORIGINS``; Logto's ``webauthnRelatedOrigins``)."""
        origins = runtime.settings.related_origins
        return JSONResponse({"origins": origins}, headers={"Cache-Control": "max-age=300"})

    return [
        Route("/.well-known/webauthn", related_origins, methods=["GET"]),
        Route("/sign-in-exp/theme.css", theme_css, methods=["GET"]),
        *sign_in.routes(runtime),
        *register.routes(runtime),
        *codes.routes(runtime),
        *recovery.routes(runtime),
        *sso.routes(runtime),
        *profile.routes(runtime),
        *mfa.routes(runtime),
        *consent.routes(runtime),
        *social.routes(runtime),
    ]
