"""``/api/experience/verification/*``: prove something (a password, a code, a provider
account, a new username and password) and get a ``verificationId`` for it. The checks are
the engine's verification classes (``experience/verifications/``), the pages' own: the same
lockout, code limits and password policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from portico.experience.answers import StepError
from portico.experience.mfa import IMPLICIT
from portico.experience.verifications import (
    CodeVerification,
    NewPasswordIdentity,
    PasswordVerification,
    SocialVerification,
)
from portico.experience.verifications.social import MAX_CALLBACK_PARAMS
from portico.web.api.errors import ApiError
from portico.web.experience import social
from portico.web.experience.context import Ctx
from portico.web.experience_api.context import (
    engine_step,
    identifier_of,
    keep,
    record_of,
    step_error,
)
from portico.web.experience_api.schemas import (
    CodeSend,
    CodeVerify,
    SocialStart,
    SocialVerify,
)
from portico.web.experience_api.schemas import PasswordVerification as PasswordBody
from portico.web.runtime import Runtime

CODE_TYPES = {"email": "EmailVerificationCode", "phone": "PhoneVerificationCode"}


def not_enabled(kind: str, event: str) -> ApiError:
    if event == "Register":
        return ApiError(422, "user.sign_up_method_not_enabled", f"Signing up by {kind} is off.")
    if event == "ForgotPassword":
        return ApiError(422, "session.forgot_password_not_enabled", "Forgot password is off.")
    return ApiError(422, "user.sign_in_method_not_enabled", f"Signing in by {kind} is off.")


def check_code_method(ctx: Ctx, kind: str, event: str) -> None:
    """A code for ``event`` may go to ``kind`` only when the sign-in experience uses it so."""
    sie = ctx.sie
    method = sie.method(kind)
    signs_up = kind in sie.signUp.identifiers or any(
        s.identifier in (kind, "emailOrPhone") for s in sie.signUp.secondaryIdentifiers
    )
    # An identified user may prove a new address to bind it as a second factor.
    binds_mfa = bool(ctx.exp.user_id) and IMPLICIT[kind] in sie.mfa.factors
    allowed = {  # a sign-in may also need a code for profile fulfilment
        "SignIn": bool(method and method.verificationCode) or signs_up or binds_mfa,
        "Register": signs_up or binds_mfa,
        "ForgotPassword": sie.forgot_password_by(kind),
    }[event]
    if not allowed:
        raise not_enabled(kind, event)


def routes(runtime: Runtime, load: Any) -> APIRouter:
    router = APIRouter(prefix="/experience/verification")
    context = Depends(load)

    @router.post("/password")
    async def create_password_verification(
        body: PasswordBody, ctx: Ctx = context
    ) -> dict[str, str]:
        """Logto: 422 ``session.invalid_credentials`` for a wrong password, an unknown
        account and (unlike Logto, to give no oracle) a suspended one."""
        identifier = identifier_of(body.identifier.type, body.identifier.value)
        method = ctx.sie.method(identifier.kind)
        if method is None or not method.password:
            raise not_enabled(identifier.kind, "SignIn")
        record = PasswordVerification(identifier)
        await engine_step(ctx, record.verify(ctx.turn, body.password), keep_on_refusal=True)
        return await keep(ctx, record)

    @router.post("/verification-code")
    async def create_and_send_verification_code(
        body: CodeSend, ctx: Ctx = context
    ) -> dict[str, str]:
        if body.identifier.type == "username":
            raise ApiError(400, "guard.invalid_input", "Codes go to an email or a phone.")
        identifier = identifier_of(body.identifier.type, body.identifier.value)
        check_code_method(ctx, identifier.kind, body.interactionEvent)
        record = CodeVerification(identifier, body.interactionEvent)
        await engine_step(ctx, record.send(ctx.turn))
        return await keep(ctx, record)

    @router.post("/verification-code/verify")
    async def verify_verification_code(body: CodeVerify, ctx: Ctx = context) -> dict[str, str]:
        identifier = identifier_of(body.identifier.type, body.identifier.value)
        record = record_of(ctx, body.verificationId, *CODE_TYPES.values())
        assert isinstance(record, CodeVerification)
        if record.identifier != identifier:
            raise ApiError(400, f"verification_code.{identifier.kind}_mismatch", "Mismatch.")
        await engine_step(ctx, record.verify(ctx.turn, body.code))
        await ctx.save()
        return {"verificationId": body.verificationId}

    @router.post("/new-password-identity")
    async def create_new_password_identity_verification(
        body: PasswordBody, ctx: Ctx = context
    ) -> dict[str, str]:
        """Register with a username and a password (Logto: only ``username``)."""
        if body.identifier.type != "username":
            raise ApiError(400, "guard.invalid_input", "Only a username is accepted here.")
        if "username" not in ctx.sie.signUp.identifiers or not ctx.sie.signUp.password:
            raise not_enabled("username", "Register")
        try:
            record = await NewPasswordIdentity.create(
                ctx.turn, body.identifier.value, body.password
            )
        except StepError as error:
            raise step_error(error, ctx.t) from None
        return await keep(ctx, record)

    @router.post("/social/{connector_id}/authorization-uri")
    async def create_social_verification(
        connector_id: str, body: SocialStart, ctx: Ctx = context
    ) -> dict[str, str]:
        """The provider's URL for the SPA. As in Logto, the state is the SPA's own (it
        checks the callback against it itself, so the provider must get exactly that value);
        it is also kept in this interaction's record and must come back at ``verify``."""
        enabled = {b["id"]: b for b in await social.buttons(ctx)}
        if connector_id not in enabled:
            raise ApiError(404, "connector.not_found", "The connector is not enabled.")
        try:
            record, url = await SocialVerification.start(
                ctx.turn, connector_id, enabled[connector_id]["name"],
                state=body.state, redirect_uri=body.redirectUri,
            )  # fmt: skip
        except StepError as error:
            raise step_error(error, ctx.t) from None
        return {"authorizationUri": url, **await keep(ctx, record)}

    @router.post("/social/{connector_id}/verify")
    async def verify_social_verification(
        connector_id: str, body: SocialVerify, ctx: Ctx = context
    ) -> dict[str, str]:
        """The provider's callback parameters: the state must be the one given at
        ``authorization-uri`` for this interaction; it is spent (and saved) before the
        provider is called, so a replayed callback is refused."""
        record = record_of(ctx, body.verificationId, "Social")
        assert isinstance(record, SocialVerification)
        data = {
            k: v
            for k, v in list(body.connectorData.items())[:MAX_CALLBACK_PARAMS]
            if isinstance(v, str)
        }  # the callback's query: strings only
        try:
            try:
                record.take_state(connector_id, str(data.get("state", "")))
            finally:
                await ctx.save()
            await record.verify(ctx.turn, data)
        except StepError as error:
            raise step_error(error, ctx.t) from None
        await ctx.save()
        return {"verificationId": body.verificationId or ""}

    return router
