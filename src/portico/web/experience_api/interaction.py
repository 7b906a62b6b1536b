"""The interaction itself: start it, switch its event, read it, identify the user, collect
the profile and submit. ``identification`` and ``submit`` end in the pages' own
``steps.conclude`` and ``steps.sign_in`` (fulfilment, account creation, linking, session
rotation, audit)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from portico.connectors.kit import SocialUserInfo
from portico.experience import accounts
from portico.experience.answers import StepError
from portico.experience.identifiers import Identifier
from portico.protocol import sessions as sessions_mod
from portico.services import identities
from portico.web.api.errors import ApiError
from portico.web.experience import social, steps
from portico.web.experience.context import Ctx
from portico.web.experience.register import username_available
from portico.web.experience.steps import Missing
from portico.web.experience_api.context import step_error, verified_record
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


def missing_profile(need: str) -> ApiError:
    return ApiError(422, "user.missing_profile", "The profile is incomplete.",
                    {"missingProfile": [need]})  # fmt: skip


async def owner_of(ctx: Ctx, identifier: Identifier) -> dict[str, Any] | None:
    assert ctx.runtime.engine is not None
    return await accounts.owner(ctx.runtime.engine, ctx.tenant, identifier.value)


def in_use(kind: str) -> ApiError:
    return ApiError(422, f"user.{kind}_already_in_use", f"The {kind} is used by another account.")


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
        return {
            "interactionEvent": exp.event.value,
            "userId": exp.user_id or exp.reset_user_id,
            "profile": profile,
            "verificationRecords": [
                {"id": key, "type": r["type"], "verified": bool(r.get("verified")),
                 **({"identifier": {"type": r["identifier"]["kind"],
                                    "value": r["identifier"]["value"]}}
                    if r.get("identifier") else {})}
                for key, r in exp.verifications.items()
            ],
        }  # fmt: skip

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
                await _identify_for_reset(ctx, body.verificationId)
            else:
                await _identify_for_sign_in(ctx, body)
        except StepError as error:
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
        assert runtime.engine is not None
        user = await accounts.account(runtime.engine, ctx.tenant, user_id)
        if user is None:
            raise ApiError(404, "user.user_not_exist", "The account does not exist.")
        try:
            hashed = await steps.new_password(ctx, body.password, body.password, user)
        except StepError as error:
            raise step_error(error, ctx.t) from None
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
            concluded = await steps.conclude(ctx)
            if isinstance(concluded, Missing):
                await ctx.save()
                raise missing_profile(concluded.need)
            handle = await steps.sign_in(ctx, concluded)
        except StepError as error:
            await ctx.save()
            raise step_error(error, ctx.t) from None
        response = JSONResponse({"redirectTo": f"{ctx.provider.issuer}/auth/{ctx.uid}"})
        runtime.set_cookie(response, runtime.session_cookie, handle, sessions_mod.SESSION_TTL)
        return response

    return router


# Identification --------------------------------------------------------------------------------
async def _register(ctx: Ctx, body: Identification) -> Response:
    """Logto creates the account here (201); so does Portico, once the profile the sign-up
    configuration requires is complete (else 422 ``user.missing_profile``)."""
    exp = ctx.exp
    if exp.user_id:
        raise ApiError(400, "session.identifier_already_identified", "Already created.")
    if body.verificationId:
        record = verified_record(
            ctx, body.verificationId, *CODE_TYPES.values(), "NewPasswordIdentity", "Social"
        )
        if record["type"] == "Social":
            exp.social = record["identity"]
            info = record["info"]
            owners = [await owner_of(ctx, Identifier(k, info[k]))
                      for k in ("email", "phone") if info.get(k)]  # fmt: skip
            taken = any(owners)
            exp.profile = {**social.new_profile(record["info"], taken=taken), **exp.profile}
        else:
            identifier = Identifier.from_dict(record["identifier"])
            if await owner_of(ctx, identifier):
                raise in_use(identifier.kind)
            exp.profile[identifier.kind] = identifier.value
            if record["type"] == "NewPasswordIdentity":
                exp.profile.update(record["password"])
    concluded = await steps.conclude(ctx)
    if isinstance(concluded, Missing):
        await ctx.save()
        raise missing_profile(concluded.need)
    await ctx.save()
    return Response(status_code=201)


async def _identify_for_sign_in(ctx: Ctx, body: Identification) -> None:
    exp = ctx.exp
    record = verified_record(ctx, body.verificationId, "Password", *CODE_TYPES.values(), "Social")
    if record["type"] == "Social":
        user_id = await _social_user(ctx, record, bool(body.linkSocialIdentity))
        exp.user_id, exp.social = user_id, record["identity"]
    else:
        identifier = Identifier.from_dict(record["identifier"])
        method = ctx.sie.method(identifier.kind)
        if record["type"] != "Password" and not (method and method.verificationCode):
            raise not_enabled(identifier.kind, "SignIn")  # the code was for fulfilment
        owner = await owner_of(ctx, identifier)
        if owner is None:
            raise ApiError(404, "user.user_not_exist", "No account uses this identifier.")
        exp.user_id = owner["id"]
    await _refuse_suspended(ctx, exp.user_id)


async def _social_user(ctx: Ctx, record: dict[str, Any], link: bool) -> str:
    """A known identity's user; or the user with the provider's email/phone, when
    ``automaticAccountLinking`` is on or the SPA asks to link (``linkSocialIdentity``)."""
    assert ctx.runtime.engine is not None
    identity = record["identity"]
    async with ctx.runtime.engine.connect() as conn:
        user_id = await identities.find_user_id(conn, ctx.tenant, identity["target"],
                                                identity["id"])  # fmt: skip
    related = (
        None
        if user_id
        else await social.related_user(
            ctx.runtime.engine, ctx.tenant, SocialUserInfo(**record["info"])
        )
    )
    if user_id:
        return str(user_id)
    if related is not None and (link or ctx.sie.socialSignIn.automaticAccountLinking):
        return str(related["id"])
    data = {"relatedUser": {"type": "email" if related.get("primary_email") else "phone"}} \
        if related else None  # fmt: skip
    raise ApiError(404, "user.identity_not_exist", "No account has this identity.", data)


async def _identify_for_reset(ctx: Ctx, verification_id: str) -> None:
    """Only a code sent for ForgotPassword (which checked ``forgotPasswordMethods``)."""
    record = verified_record(ctx, verification_id, *CODE_TYPES.values())
    if record["purpose"] != "ForgotPassword":
        raise ApiError(400, "session.verification_failed", "Verify a ForgotPassword code.")
    identifier = Identifier.from_dict(record["identifier"])
    owner = await owner_of(ctx, identifier)
    if owner is None:
        raise ApiError(404, "user.user_not_exist", "No account uses this identifier.")
    ctx.exp.reset_user_id = owner["id"]


async def _refuse_suspended(ctx: Ctx, user_id: str) -> None:
    assert ctx.runtime.engine is not None
    user = await accounts.account(ctx.runtime.engine, ctx.tenant, user_id)
    if user is None:
        raise ApiError(404, "user.user_not_exist", "The account does not exist.")
    if user["is_suspended"]:
        ctx.exp.user_id = None
        raise ApiError(401, "user.suspended", "This account is suspended.")


# Profile -----------------------------------------------------------------------------------
async def _current_user(ctx: Ctx) -> dict[str, Any] | None:
    if not ctx.exp.user_id:
        return None
    assert ctx.runtime.engine is not None
    return await accounts.account(ctx.runtime.engine, ctx.tenant, ctx.exp.user_id)


async def _profile_value(ctx: Ctx, body: ProfileValue) -> None:
    profile = ctx.exp.profile
    if body.type == "username":
        profile["username"] = await username_available(ctx, body.value.strip())
        return
    have = steps.have(profile, await _current_user(ctx))
    hashed = await steps.new_password(
        ctx, body.value, body.value,
        {"username": have.get("username"), "primary_email": have.get("email"),
         "primary_phone": have.get("phone")},
    )  # fmt: skip
    profile.update(hashed)


async def _profile_verified(ctx: Ctx, body: ProfileVerified) -> None:
    if body.type == "social":
        record = verified_record(ctx, body.verificationId, "Social")
        ctx.exp.social = record["identity"]
        return
    record = verified_record(ctx, body.verificationId, CODE_TYPES[body.type])
    identifier = Identifier.from_dict(record["identifier"])
    owner = await owner_of(ctx, identifier)
    if owner is not None and owner["id"] != ctx.exp.user_id:
        raise in_use(identifier.kind)
    ctx.exp.profile[identifier.kind] = identifier.value


async def _submit_reset(ctx: Ctx) -> Response:
    user_id, hashed = ctx.exp.reset_user_id, ctx.exp.new_password
    if not user_id:
        raise ApiError(404, "session.identifier_not_found", "Identify the account first.")
    if not hashed:
        raise ApiError(422, "user.new_password_required_in_profile", "Set a new password.")
    await steps.reset_password(ctx, user_id, hashed)
    await ctx.save()
    return Response(status_code=204)
