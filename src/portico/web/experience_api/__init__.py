"""Logto's Experience API (``/api/experience/*``) and the consent pair
(``/api/interaction/consent``): the JSON face of the hosted sign-in pages, for Logto's
Experience SPA and custom sign-in UIs. Authenticated by the OIDC interaction cookie, like
the pages, and built on the same sign-in engine (``portico.experience``). See
``docs/experience-api.md``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from portico.web.experience.context import Ctx
from portico.web.experience_api import (
    consent,
    context,
    interaction,
    mfa,
    sso,
    unsupported,
    verification,
)
from portico.web.runtime import Runtime


def router(runtime: Runtime) -> APIRouter:
    async def load(request: Request) -> Ctx:
        return await context.load(runtime, request)

    combined = APIRouter(tags=["Experience"])
    combined.include_router(unsupported.routes())  # before the parametrised social routes
    combined.include_router(interaction.routes(runtime, load))
    combined.include_router(verification.routes(runtime, load))
    combined.include_router(sso.routes(runtime, load))
    combined.include_router(mfa.routes(runtime, load))
    combined.include_router(consent.routes(runtime, load))
    return combined
