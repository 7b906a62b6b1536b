"""``GET/POST /api/interaction/consent``: what a third-party application asks for, and the
user's consent (the legacy Interaction API paths the Experience SPA still uses)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from portico.protocol import sessions as sessions_mod
from portico.web.api.errors import ApiError
from portico.web.experience.context import Ctx
from portico.web.experience_api.schemas import Consent
from portico.web.runtime import Runtime


def routes(runtime: Runtime, load: Any) -> APIRouter:
    router = APIRouter(prefix="/interaction")
    context = Depends(load)

    @router.get("/consent")
    async def get_consent_info(ctx: Ctx = context) -> dict[str, Any]:
        request = ctx.interaction["request"]
        session = await sessions_mod.find_session(
            ctx.provider, ctx.request.cookies.get(runtime.session_cookie)
        )
        client = ctx.client
        return {
            "application": {"id": request["client_id"], "name": ctx.client_name,
                            "isThirdParty": bool(client and client.is_third_party)},
            "user": {"id": session.account_id} if session else None,
            "redirectUri": request["redirect_uri"],
            "missingOIDCScope": [s for s in request["scopes"] if s != "openid"],
            "missingResourceScopes": [{"resource": {"indicator": r}, "scopes": []}
                                      for r in request["resources"]],
        }  # fmt: skip

    @router.post("/consent")
    async def consent(body: Consent | None = None, ctx: Ctx = context) -> dict[str, str]:
        """Consent to everything requested; ``/oidc/auth/<uid>`` then issues the code.
        Only a signed-in user consents (Logto: 401 ``session.unauthorized``)."""
        session = await sessions_mod.find_session(
            ctx.provider, ctx.request.cookies.get(runtime.session_cookie)
        )
        if session is None:
            raise ApiError(401, "session.unauthorized", "Please sign in first.")
        ctx.interaction["consented"] = True
        await ctx.save()
        return {"redirectTo": f"{ctx.provider.issuer}/auth/{ctx.uid}"}

    return router
