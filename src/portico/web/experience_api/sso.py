"""Enterprise SSO in the Experience API (Logto's paths): which connectors an email must use
(``GET /experience/sso-connectors?email=``), and the verification pair
``/experience/verification/sso/:connectorId/authorization-uri`` and ``/verify``. The checks
are the pages' (``experience/verifications/enterprise_sso.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from portico.experience.answers import StepError
from portico.experience.turn import Turn
from portico.experience.verifications import EnterpriseSsoVerification
from portico.experience.verifications.enterprise_sso import MAX_CALLBACK_PARAMS, connectors_for
from portico.services.emails import canonical
from portico.web.api.errors import ApiError
from portico.web.experience.context import TENANT, Ctx
from portico.web.experience_api.context import keep, record_of, step_error
from portico.web.experience_api.schemas import SocialStart, SsoVerify
from portico.web.runtime import Runtime


def routes(runtime: Runtime, load: Any) -> APIRouter:
    router = APIRouter(prefix="/experience")
    context = Depends(load)

    @router.get("/sso-connectors")
    async def get_enabled_sso_connectors(
        email: str = Query(max_length=320),
    ) -> dict[str, list[str]]:
        """Anonymous, as in Logto: the ids of the connectors ``email``'s domain belongs to
        (none unless ``singleSignOnEnabled``); 400 ``guard.invalid_input`` for no email."""
        address = canonical(email)
        if not address:
            raise ApiError(400, "guard.invalid_input", "The email is not valid.")
        assert runtime.experiences is not None
        sie = await runtime.experiences.get(TENANT)
        turn = Turn(runtime, "", {}, sie)
        return {"connectorIds": [row["id"] for row in await connectors_for(turn, address)]}

    @router.post("/verification/sso/{connector_id}/authorization-uri")
    async def create_enterprise_sso_verification(
        connector_id: str, body: SocialStart, ctx: Ctx = context
    ) -> dict[str, str]:
        """The provider's URL for the SPA; the ``state`` is the SPA's own and must come
        back at ``verify``. 404 ``connector.not_found`` for an unknown or unusable
        connector, 500 ``connector.*`` when the provider cannot be reached."""
        try:
            record, url = await EnterpriseSsoVerification.start(
                ctx.turn, connector_id, state=body.state, redirect_uri=body.redirectUri
            )
        except StepError as error:
            raise step_error(error, ctx.t) from None
        return {"authorizationUri": url, **await keep(ctx, record)}

    @router.post("/verification/sso/{connector_id}/verify")
    async def verify_enterprise_sso_verification(
        connector_id: str, body: SsoVerify, ctx: Ctx = context
    ) -> dict[str, str]:
        """The provider's callback parameters; the state is spent (and saved) before the
        provider is called, so a replayed callback is refused."""
        record = record_of(ctx, body.verificationId, "EnterpriseSso")
        assert isinstance(record, EnterpriseSsoVerification)
        if record.connector_id != connector_id:
            raise ApiError(
                404, "session.verification_session_not_found", "The verification was not found."
            )
        data = {
            k: v
            for k, v in list(body.connectorData.items())[:MAX_CALLBACK_PARAMS]
            if isinstance(v, str)
        }
        try:
            try:
                record.take_state(connector_id, str(data.get("state", "")))
            finally:
                await ctx.save()
            await record.verify(ctx.turn, data)
        except StepError as error:
            raise step_error(error, ctx.t) from None
        await ctx.save()
        return {"verificationId": body.verificationId}

    return router
