"""``/api/experience/verification/*``: prove something (a password, a code, a provider
account, a new username and password) and get a ``verificationId`` for it. The checks are
the pages' own steps (``web/experience/steps.py``): the same lockout, code limits and
password policy."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends

from portico.connectors import ConnectorError
from portico.connectors.social import SocialErrorCode
from portico.experience.answers import StepError
from portico.experience.identifiers import Identifier
from portico.web.api.errors import ApiError
from portico.web.experience import social, steps
from portico.web.experience.context import Ctx, log
from portico.web.experience.register import username_available
from portico.web.experience_api.context import (
    add_record,
    identifier_of,
    record_of,
    step_error,
)
from portico.web.experience_api.schemas import (
    CodeSend,
    CodeVerify,
    PasswordVerification,
    SocialStart,
    SocialVerify,
)
from portico.web.runtime import Runtime

CODE_TYPES = {"email": "EmailVerificationCode", "phone": "PhoneVerificationCode"}
MAX_CONNECTOR_DATA = 32


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
    allowed = {  # a sign-in may also need a code for profile fulfilment
        "SignIn": bool(method and method.verificationCode) or signs_up,
        "Register": signs_up,
        "ForgotPassword": sie.forgot_password_by(kind),
    }[event]
    if not allowed:
        raise not_enabled(kind, event)


def routes(runtime: Runtime, load: Any) -> APIRouter:
    router = APIRouter(prefix="/experience/verification")
    context = Depends(load)

    @router.post("/password")
    async def create_password_verification(
        body: PasswordVerification, ctx: Ctx = context
    ) -> dict[str, str]:
        """Logto: 422 ``session.invalid_credentials`` for a wrong password, an unknown
        account and (unlike Logto, to give no oracle) a suspended one."""
        identifier = identifier_of(body.identifier.type, body.identifier.value)
        method = ctx.sie.method(identifier.kind)
        if method is None or not method.password:
            raise not_enabled(identifier.kind, "SignIn")
        try:
            user = await steps.check_password_of(ctx, identifier, body.password)
        except StepError as error:
            await ctx.save()
            raise step_error(error, ctx.t) from None
        verification_id = add_record(
            ctx,
            {"type": "Password", "identifier": identifier.as_dict(), "userId": user["id"],
             "verified": True},
        )  # fmt: skip
        await ctx.save()
        return {"verificationId": verification_id}

    @router.post("/verification-code")
    async def create_and_send_verification_code(
        body: CodeSend, ctx: Ctx = context
    ) -> dict[str, str]:
        if body.identifier.type == "username":
            raise ApiError(400, "guard.invalid_input", "Codes go to an email or a phone.")
        identifier = identifier_of(body.identifier.type, body.identifier.value)
        check_code_method(ctx, identifier.kind, body.interactionEvent)
        try:
            await steps.issue_code(ctx, identifier, body.interactionEvent)
        except StepError as error:
            raise step_error(error, ctx.t) from None
        verification_id = add_record(
            ctx,
            {"type": CODE_TYPES[identifier.kind], "identifier": identifier.as_dict(),
             "purpose": body.interactionEvent, "verified": False},
        )  # fmt: skip
        await ctx.save()
        return {"verificationId": verification_id}

    @router.post("/verification-code/verify")
    async def verify_verification_code(body: CodeVerify, ctx: Ctx = context) -> dict[str, str]:
        identifier = identifier_of(body.identifier.type, body.identifier.value)
        record = record_of(ctx, body.verificationId, *CODE_TYPES.values())
        if Identifier.from_dict(record["identifier"]) != identifier:
            raise ApiError(400, f"verification_code.{identifier.kind}_mismatch", "Mismatch.")
        try:
            await steps.check_code(ctx, identifier, record["purpose"], body.code)
        except StepError as error:
            raise step_error(error, ctx.t) from None
        record["verified"] = True
        await ctx.save()
        return {"verificationId": body.verificationId}

    @router.post("/new-password-identity")
    async def create_new_password_identity_verification(
        body: PasswordVerification, ctx: Ctx = context
    ) -> dict[str, str]:
        """Register with a username and a password (Logto: only ``username``)."""
        if body.identifier.type != "username":
            raise ApiError(400, "guard.invalid_input", "Only a username is accepted here.")
        if "username" not in ctx.sie.signUp.identifiers or not ctx.sie.signUp.password:
            raise not_enabled("username", "Register")
        try:
            username = await username_available(ctx, body.identifier.value.strip())
            hashed = await steps.new_password(
                ctx, body.password, body.password, {"username": username}
            )
        except StepError as error:
            raise step_error(error, ctx.t) from None
        verification_id = add_record(
            ctx,
            {"type": "NewPasswordIdentity", "identifier": {"kind": "username", "value": username},
             "password": hashed, "verified": True},
        )  # fmt: skip
        await ctx.save()
        return {"verificationId": verification_id}

    @router.post("/social/{connector_id}/authorization-uri")
    async def create_social_verification(
        connector_id: str, body: SocialStart, ctx: Ctx = context
    ) -> dict:
        """The provider's URL for the SPA. As in Logto, the state is the SPA's own (it
        checks the callback against it itself, so the provider must get exactly that value);
        it is also kept in this interaction's record and must come back at ``verify``."""
        assert runtime.connectors is not None
        enabled = {b["id"]: b for b in await social.buttons(ctx)}
        if connector_id not in enabled:
            raise ApiError(404, "connector.not_found", "The connector is not enabled.")
        session: dict[str, Any] = {}
        try:
            connector, _ = await runtime.connectors.social(ctx.tenant, connector_id)
            url = await connector.authorization_uri(
                state=body.state, redirect_uri=body.redirectUri, connector_id=connector_id,
                session=session,
            )  # fmt: skip
        except ConnectorError as error:
            log.warning("social sign-in %s could not start: %s", connector_id, error.admin_message)
            raise ApiError(502, "connector.general", "The provider could not be reached.") from None
        verification_id = add_record(
            ctx,
            {"type": "Social", "connectorId": connector_id, "state": body.state,
             "session": session, "redirectUri": body.redirectUri,
             "provider": enabled[connector_id]["name"], "verified": False},
        )  # fmt: skip
        await ctx.save()
        return {"authorizationUri": url, "verificationId": verification_id}

    @router.post("/social/{connector_id}/verify")
    async def verify_social_verification(
        connector_id: str, body: SocialVerify, ctx: Ctx = context
    ) -> dict:
        """The provider's callback parameters: the state must be the one given at
        ``authorization-uri`` for this interaction (constant-time comparison); it is taken out
        of the record before the provider is called, so a replayed callback is refused."""
        assert runtime.connectors is not None
        record = record_of(ctx, body.verificationId, "Social")
        data = {
            k: v
            for k, v in list(body.connectorData.items())[:MAX_CONNECTOR_DATA]
            if isinstance(v, str)
        }  # the callback's query: strings only
        state = str(data.get("state", ""))
        expected = record.pop("state", None)
        await ctx.save()
        if (
            record["connectorId"] != connector_id
            or expected is None
            or not hmac.compare_digest(state.encode(), expected.encode())
        ):
            raise ApiError(400, "session.connector_session_not_found", "State mismatch.")
        try:
            connector, found = await runtime.connectors.social(ctx.tenant, connector_id)
            info = await connector.user_info(
                {**data, "redirectUri": record["redirectUri"]}, record["session"]
            )
        except ConnectorError as error:
            log.warning("social sign-in %s failed: [%s] %s", connector_id, error.code,
                        error.admin_message)  # fmt: skip
            await ctx.audit(
                "Interaction.SignIn.Verification.Social.Submit",
                error=error.code, connectorId=connector_id, reason=error.reason,
            )  # fmt: skip
            cancelled = error.code == SocialErrorCode.AuthorizationFailed
            code = "connector.authorization_failed" if cancelled else "connector.general"
            raise ApiError(400 if cancelled else 502, code, "The provider refused.") from None
        info = social.normalised(info)
        record.update(
            verified=True,
            identity={"target": found["target"], "id": info.id,
                      "details": social.details_of(info), "provider": record["provider"],
                      "syncProfile": bool(found.get("syncProfile"))},
            info=info.model_dump(exclude={"rawData"}),
        )  # fmt: skip
        record.pop("session", None)
        await ctx.save()
        return {"verificationId": body.verificationId or ""}

    return router
