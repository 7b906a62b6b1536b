"""``GET/POST /api/interaction/consent``: what a third-party application asks for, and the
user's consent (the legacy Interaction API paths the Experience SPA still uses)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from portico.protocol import sessions as sessions_mod
from portico.protocol.authorization import endpoint as authz
from portico.protocol.authorization.request import AuthorizationRequest
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
        session = await sessions_mod.find_session(
            ctx.provider, ctx.request.cookies.get(runtime.session_cookie)
        )
        client = ctx.client
        info: dict[str, Any] = {
            "application": {"id": request["client_id"], "name": ctx.client_name,
                            "isThirdParty": bool(client and client.is_third_party)},
            "user": {"id": session.account_id} if session else None,
            "redirectUri": request["redirect_uri"],
            "missingOIDCScope": [s for s in request["scopes"] if s != "openid"],
            "missingResourceScopes": [{"resource": {"indicator": r}, "scopes": []}
                                      for r in request["resources"]],
        }  # fmt: skip
        if session and SCOPE_ORGANIZATIONS in request["scopes"]:
            # The organizations the user may grant, as the consent page lists them.
            assert runtime.engine is not None
            rows = await consents.organization_choices(
                runtime.engine, request["client_id"], session.account_id
            )
            info["organizations"] = [{"id": r["id"], "name": r["name"]} for r in rows]
        return info

    @router.post("/consent")
    async def consent(body: Consent | None = None, ctx: Ctx = context) -> dict[str, str]:
        """Consent to everything requested (and to the organizations named); remembered
        like the page's; ``/oidc/auth/<uid>`` then issues the code. Only a signed-in user
        consents (Logto: 401 ``session.unauthorized``)."""
        session = await sessions_mod.find_session(
            ctx.provider, ctx.request.cookies.get(runtime.session_cookie)
        )
        if session is None or ctx.client is None:
            raise ApiError(401, "session.unauthorized", "Please sign in first.")
        # Remembered as the consent page does (services.consents): the organizations named
        # in the body are those granted, the others withdrawn.
        auth_request = AuthorizationRequest.from_payload(ctx.interaction["request"])
        chosen = (
            list((body.organizationIds if body else None) or [])[:100]
            if SCOPE_ORGANIZATIONS in auth_request.scopes
            else None
        )
        assert runtime.engine is not None
        if ctx.client.is_third_party:  # first-party apps are never asked: nothing to keep
            try:
                async with runtime.engine.begin() as conn:
                    await consents.remember(
                        conn,
                        ctx.tenant,
                        ctx.client.id,
                        session.account_id,
                        authz.consent_request(auth_request),
                        chosen,
                    )
            except ServiceError as error:
                raise ApiError(error.status, error.code, error.message) from None
        ctx.interaction["consented"] = True
        await ctx.save()
        return {"redirectTo": f"{ctx.provider.issuer}/auth/{ctx.uid}"}

    return router
