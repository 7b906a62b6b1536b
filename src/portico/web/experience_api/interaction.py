"""The interaction itself: start it, switch its event, read it, identify the user, collect
the profile and submit. Who the user is comes from the engine's ``identification`` rules and
what follows from ``conclusion`` (fulfilment, account creation, linking, session rotation,
audit), as for the pages; this module only translates JSON and Logto's error codes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from portico.experience import accounts, conclusion, identification
from portico.experience.answers import StepError
from portico.experience.next_step import Fulfil
from portico.experience.passwords import new_password, username_available
from portico.experience.profile import user_info
from portico.experience.verifications import CodeVerification
from portico.web.api.errors import ApiError
from portico.web.experience.context import Ctx
from portico.web.experience_api.context import (
    engine_step,
    pending_error,
    step_error,
    verified_record,
)
from portico.web.experience_api.schemas import (
    EventBody,
    Identification,
    NewPassword,
    ProfileValue,
    ProfileVerified,
)
from portico.web.experience_api.verification import CODE_TYPES, not_enabled
from portico.web.runtime import Runtime

NO_CONTENT = {"status_code": 204, "response_class": Response}


def check_event(ctx: Ctx, event: str) -> None:
    """The sign-in mode decides which events may run (Logto: 403 ``auth.forbidden``)."""
    allowed = {"SignIn": ctx.sie.can_sign_in, "Register": ctx.sie.can_register}
    if not allowed.get(event, True):
        raise ApiError(403, "auth.forbidden", f"{event} is not allowed by the sign-in mode.")


def routes(runtime: Runtime, load: Any) -> APIRouter:
    router = APIRouter(prefix="/experience")
    context = Depends(load)

    @router.put("", **NO_CONTENT)
    async def init_interaction(body: EventBody, ctx: Ctx = context) -> Response:
        """A new interaction state (verification records included) for the event."""
        check_event(ctx, body.interactionEvent)
        ctx.reset(body.interactionEvent)
        await ctx.save()
        return Response(status_code=204)

    @router.put("/interaction-event", **NO_CONTENT)
    async def update_interaction_event(body: EventBody, ctx: Ctx = context) -> Response:
        """Change the event, keeping the verification records (the SPA's 404 -> Register
        switch reuses the verified code or social account)."""
        current, wanted = ctx.exp.event, body.interactionEvent
        if "ForgotPassword" in (current, wanted) and current != wanted:
            raise ApiError(400, "session.not_supported_for_forgot_password", "Not supported.")
        check_event(ctx, body.interactionEvent)
        kept = ctx.exp.verifications
        ctx.reset(body.interactionEvent)
        ctx.exp.verifications = kept
        await ctx.save()
        return Response(status_code=204)

    @router.get("/interaction")
    async def get_interaction(ctx: Ctx = context) -> dict[str, Any]:
        """The interaction without secrets (no hashes, states or provider sessions)."""
        exp = ctx.exp
        profile = {k: v for k, v in exp.profile.items()
                   if not k.startswith("password")}  # fmt: skip
        records = []
        for key, record in exp.verifications.items():
            shown: dict[str, Any] = {"id": key, "type": record.type.value,
                                     "verified": record.verified}  # fmt: skip
            identifier = getattr(record, "identifier", None)
            if identifier is not None:
                shown["identifier"] = {"type": identifier.kind, "value": identifier.value}
            records.append(shown)
        return {
            "interactionEvent": exp.event.value,
            "userId": exp.user_id or exp.reset_user_id,
            "profile": profile,
            "verificationRecords": records,
        }

    @router.post("/identification", status_code=204, response_class=Response)
    async def identify_user(body: Identification | None = None, ctx: Ctx = context) -> Response:
        body = body or Identification()
        event = ctx.exp.event
        check_event(ctx, event)
        try:
            if event == "Register":
                return await _register(ctx, body)
            if not body.verificationId:
                raise ApiError(400, "guard.invalid_input", "verificationId is required.")
            if event == "ForgotPassword":
                record = verified_record(ctx, body.verificationId, *CODE_TYPES.values())
                await identification.reset_with(ctx.turn, record)
            else:
                await _identify_for_sign_in(ctx, body)
        except StepError as error:
            await ctx.save()
            raise step_error(error, ctx.t) from None
        await ctx.save()
        return Response(status_code=204)

    @router.post("/profile", **NO_CONTENT)
    async def add_user_profile(
        body: ProfileValue | ProfileVerified, ctx: Ctx = context
    ) -> Response:
        if ctx.exp.event == "ForgotPassword":
            raise ApiError(400, "session.not_supported_for_forgot_password", "Not supported.")
        try:
            if isinstance(body, ProfileValue):
                await _profile_value(ctx, body)
            else:
                await _profile_verified(ctx, body)
        except StepError as error:
            raise step_error(error, ctx.t) from None
        await ctx.save()
        return Response(status_code=204)

    @router.put("/profile/password", **NO_CONTENT)
    async def reset_user_password(body: NewPassword, ctx: Ctx = context) -> Response:
        """Forgot password: the new password, checked now, stored at ``submit``."""
        user_id = ctx.exp.reset_user_id
        if ctx.exp.event != "ForgotPassword" or not user_id:
            raise ApiError(404, "session.identifier_not_found", "Identify the account first.")
        user = await accounts.account(ctx.turn.engine, ctx.tenant, user_id)
        if user is None:
            raise ApiError(404, "user.user_not_exist", "The account does not exist.")
        hashed = await engine_step(ctx, new_password(ctx.turn, body.password, body.password, user))
        ctx.exp.new_password = hashed
        await ctx.save()
        return Response(status_code=204)

    @router.post("/submit", response_model=None)
    async def submit_interaction(ctx: Ctx = context) -> Response:
        """``{redirectTo}`` back to ``/oidc/auth/<uid>`` with a new session; 204 after a
        password reset (which signs nobody in, as on the pages)."""
        event = ctx.exp.event
        check_event(ctx, event)
        if event == "ForgotPassword":
            return await _submit_reset(ctx)
        if not ctx.exp.user_id and event != "Register":
            raise ApiError(404, "session.identifier_not_found", "Identify the user first.")
        try:
            concluded = await conclusion.conclude(ctx.turn)
            if not isinstance(concluded, str):
                await ctx.save()
                raise pending_error(concluded)
            old_session = ctx.request.cookies.get(runtime.session_cookie)
            signed_in = await conclusion.sign_in(ctx.turn, concluded, old_session)
        except StepError as error:
            await ctx.save()
            raise step_error(error, ctx.t) from None
        response = JSONResponse({"redirectTo": f"{ctx.provider.issuer}/auth/{ctx.uid}"})
        runtime.set_signed_in_cookies(response, signed_in, ctx.sie.trustedDevice.days)
        return response

    return router


# Identification --------------------------------------------------------------------------------
async def _register(ctx: Ctx, body: Identification) -> Response:
    """Logto creates the account here (201); so does Portico, once the profile the sign-up
    configuration requires is complete (else 422 ``user.missing_profile``)."""
    if ctx.exp.user_id:
        raise ApiError(400, "session.identifier_already_identified", "Already created.")
    if body.verificationId:
        record = verified_record(
            ctx,
            body.verificationId,
            *CODE_TYPES.values(),
            "NewPasswordIdentity",
            "Social",
            "EnterpriseSso",
        )
        await identification.register_with(ctx.turn, record)
    concluded = await conclusion.conclude(ctx.turn)
    await ctx.save()
    if isinstance(concluded, Fulfil):  # the account is not created yet
        raise pending_error(concluded)
    return Response(status_code=201)


async def _identify_for_sign_in(ctx: Ctx, body: Identification) -> None:
    record = verified_record(
        ctx,
        body.verificationId,
        "Password",
        *CODE_TYPES.values(),
        "Social",
        "SignInPasskey",
        "EnterpriseSso",
    )
    if isinstance(record, CodeVerification):
        method = ctx.sie.method(record.identifier.kind)
        if not (method and method.verificationCode):
            raise not_enabled(record.identifier.kind, "SignIn")  # the code was for fulfilment
    await identification.sign_in_with(ctx.turn, record, link=bool(body.linkSocialIdentity))


# Profile -----------------------------------------------------------------------------------
async def _current_user(ctx: Ctx) -> dict[str, Any] | None:
    if not ctx.exp.user_id:
        return None
    return await accounts.account(ctx.turn.engine, ctx.tenant, ctx.exp.user_id)


async def _profile_value(ctx: Ctx, body: ProfileValue) -> None:
    profile = ctx.exp.profile
    if body.type == "username":
        profile["username"] = await username_available(ctx.turn, body.value.strip())
        return
    info = user_info(profile, await _current_user(ctx))
    profile.update(await new_password(ctx.turn, body.value, body.value, info))


async def _profile_verified(ctx: Ctx, body: ProfileVerified) -> None:
    types = ("Social",) if body.type == "social" else (CODE_TYPES[body.type],)
    record = verified_record(ctx, body.verificationId, *types)
    await identification.bind(ctx.turn, record)


async def _submit_reset(ctx: Ctx) -> Response:
    user_id, hashed = ctx.exp.reset_user_id, ctx.exp.new_password
    if not user_id:
        raise ApiError(404, "session.identifier_not_found", "Identify the account first.")
    if not hashed:
        raise ApiError(422, "user.new_password_required_in_profile", "Set a new password.")
    await conclusion.reset_password(ctx.turn, user_id, hashed)
    await ctx.save()
    return Response(status_code=204)
