"""``GET/POST /api/interaction/consent``: what a third-party application asks for, and the
user's consent (the legacy Interaction API paths the Experience SPA still uses)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from portico.experience import consent as consent_step
from portico.services import consents
from portico.services.errors import ServiceError
from portico.services.organizations import SCOPE_ORGANIZATIONS
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
        user_id = await consent_step.signed_in_user(
            ctx.turn, ctx.request.cookies.get(runtime.session_cookie)
        )
        client = ctx.client
        info: dict[str, Any] = {
            "application": {"id": request["client_id"], "name": ctx.client_name,
                            "isThirdParty": bool(client and client.is_third_party)},
            "user": {"id": user_id} if user_id else None,
            "redirectUri": request["redirect_uri"],
            "missingOIDCScope": [s for s in request["scopes"] if s != "openid"],
            "missingResourceScopes": [{"resource": {"indicator": r}, "scopes": []}
                                      for r in request["resources"]],
        }  # fmt: skip
        if user_id and SCOPE_ORGANIZATIONS in request["scopes"]:
            # The organizations the user may grant, as the consent page lists them.
            assert runtime.engine is not None
            rows = await consents.organization_choices(
                runtime.engine, request["client_id"], user_id
            )
            info["organizations"] = [{"id": r["id"], "name": r["name"]} for r in rows]
        return info

    @router.post("/consent")
    async def consent(body: Consent | None = None, ctx: Ctx = context) -> dict[str, str]:
        """Consent to everything requested (and to the organizations named); remembered
        like the page's; ``/oidc/auth/<uid>`` then issues the code. Only a signed-in user
        consents (Logto: 401 ``session.unauthorized``)."""
        user_id = await consent_step.signed_in_user(
            ctx.turn, ctx.request.cookies.get(runtime.session_cookie)
        )
        if user_id is None or ctx.client is None:
            raise ApiError(401, "session.unauthorized", "Please sign in first.")
        # As the consent page: the organizations named in the body are those granted.
        chosen = list((body.organizationIds if body else None) or [])
        try:
            await consent_step.grant(ctx.turn, ctx.client, user_id, chosen)
        except ServiceError as error:
            raise ApiError(error.status, error.code, error.message) from None
        return {"redirectTo": f"{ctx.provider.issuer}/auth/{ctx.uid}"}

    return router
