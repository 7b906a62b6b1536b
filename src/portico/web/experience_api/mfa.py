"""The Experience API's MFA routes, in Logto's paths and shapes: TOTP (a new key and its QR
code, a code to verify), backup codes (a new set, a code to verify) and ``profile/mfa`` (bind
a factor proven here, turn MFA on, skip it). The rules are the engine's
(``experience/verifications/totp.py``, ``backup_code.py``, ``experience/factors.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from portico.experience import accounts, factors
from portico.experience.identifiers import Identifier
from portico.experience.verifications import (
    BackupCodeVerification,
    MfaCodeVerification,
    PasskeyVerification,
    TotpVerification,
    WebAuthnVerification,
)
from portico.experience.verifications.web_authn import AUTHENTICATION, REGISTRATION
from portico.web.api.errors import ApiError
from portico.web.experience.context import Ctx
from portico.web.experience_api.context import (
    engine_step,
    identifier_of,
    keep,
    record_of,
)
from portico.web.experience_api.schemas import (
    BackupCodeVerify,
    BindMfaBody,
    MfaCodeSend,
    MfaCodeVerify,
    PasskeyBind,
    PasskeyStart,
    PasskeyVerify,
    TotpVerify,
    WebAuthnPayload,
)
from portico.web.runtime import Runtime

NO_CONTENT = {"status_code": 204, "response_class": Response}
PREFLIGHT = "preflight:passkey"  # the discoverable passkey challenge of this interaction


def _identified(ctx: Ctx) -> str:
    """The identified user (Logto: 404 ``session.identifier_not_found``)."""
    if not ctx.exp.user_id:
        raise ApiError(404, "session.identifier_not_found", "Identify the user first.")
    return ctx.exp.user_id


def routes(runtime: Runtime, load: Any) -> APIRouter:
    router = APIRouter(prefix="/experience")
    context = Depends(load)

    @router.post("/verification/totp/secret")
    async def create_totp_secret(ctx: Ctx = context) -> dict[str, str]:
        """A new TOTP key for the user to add to an authenticator app (stored only when it
        is verified, bound and the interaction ends)."""
        user_id = _identified(ctx)
        user = await accounts.account(ctx.turn.engine, ctx.tenant, user_id)
        if user is None:
            raise ApiError(404, "session.identifier_not_found", "Identify the user first.")
        record = TotpVerification.new(user_id)
        assert record.secret is not None
        qr_code = record.qr_code(ctx.turn, user)
        return {**await keep(ctx, record), "secret": record.secret, "secretQrCode": qr_code}

    @router.post("/verification/totp/verify")
    async def verify_totp_verification(body: TotpVerify, ctx: Ctx = context) -> dict[str, str]:
        """With ``verificationId``: the new key's code (binding); without: the user's own
        authenticator (a second factor at sign-in)."""
        user_id = _identified(ctx)
        if body.verificationId:
            record = record_of(ctx, body.verificationId, "Totp")
            if not isinstance(record, TotpVerification) or record.user_id != user_id:
                raise ApiError(404, "session.verification_session_not_found", "Not found.")
        else:
            record = TotpVerification(user_id)
        await engine_step(ctx, record.verify(ctx.turn, body.code))
        if body.verificationId:
            await ctx.save()
            return {"verificationId": body.verificationId}
        return await keep(ctx, record)

    @router.post("/verification/backup-code/generate")
    async def generate_backup_codes(ctx: Ctx = context) -> dict[str, Any]:
        """Ten new codes, shown here once; they replace the user's old set when bound."""
        record = BackupCodeVerification.generate(_identified(ctx))
        return {**await keep(ctx, record), "codes": record.codes}

    @router.post("/verification/backup-code/verify")
    async def verify_backup_code(body: BackupCodeVerify, ctx: Ctx = context) -> dict[str, str]:
        record = BackupCodeVerification(_identified(ctx))
        await engine_step(ctx, record.verify(ctx.turn, body.code))
        return await keep(ctx, record)

    @router.post("/verification/mfa-verification-code")
    async def create_mfa_verification_code(body: MfaCodeSend, ctx: Ctx = context) -> dict[str, str]:
        """A code to the user's own email or phone, as a second factor (Logto: 400
        ``session.identifier_not_found`` before identification)."""
        if not ctx.exp.user_id:
            raise ApiError(400, "session.identifier_not_found", "Identify the user first.")
        user = await accounts.account(ctx.turn.engine, ctx.tenant, ctx.exp.user_id)
        value = (user or {}).get(f"primary_{body.identifierType}")
        if not value:
            raise ApiError(400, "session.mfa.mfa_factor_not_enabled", "No such address.")
        record = MfaCodeVerification(ctx.exp.user_id, Identifier(body.identifierType, value))
        await engine_step(ctx, record.send(ctx.turn))
        return await keep(ctx, record)

    @router.post("/verification/mfa-verification-code/verify")
    async def verify_mfa_verification_code(
        body: MfaCodeVerify, ctx: Ctx = context
    ) -> dict[str, str]:
        kind = "MfaEmailVerificationCode" if body.identifierType == "email" else (
            "MfaPhoneVerificationCode")  # fmt: skip
        record = record_of(ctx, body.verificationId, kind)
        assert isinstance(record, MfaCodeVerification)
        await engine_step(ctx, record.verify(ctx.turn, body.code))
        await ctx.save()
        return {"verificationId": body.verificationId}

    @router.post("/verification/web-authn/registration")
    async def create_web_authn_registration(ctx: Ctx = context) -> dict[str, Any]:
        """Options for ``navigator.credentials.create`` (a passkey for this user)."""
        return await _web_authn_options(ctx, REGISTRATION)

    @router.post("/verification/web-authn/registration/verify")
    async def verify_web_authn_registration(
        body: WebAuthnPayload, ctx: Ctx = context
    ) -> dict[str, str]:
        await _web_authn(ctx, body, REGISTRATION)
        return {"verificationId": body.verificationId}

    @router.post("/verification/web-authn/authentication")
    async def create_web_authn_authentication(ctx: Ctx = context) -> dict[str, Any]:
        """Options for ``navigator.credentials.get`` over the user's authenticators."""
        return await _web_authn_options(ctx, AUTHENTICATION)

    @router.post("/verification/web-authn/authentication/verify")
    async def verify_web_authn_authentication(
        body: WebAuthnPayload, ctx: Ctx = context
    ) -> dict[str, str]:
        await _web_authn(ctx, body, AUTHENTICATION)
        return {"verificationId": body.verificationId}

    @router.post("/preflight/sign-in-passkey/authentication")
    async def create_preflight_passkey(ctx: Ctx = context) -> dict[str, Any]:
        """Options for any of this server's passkeys (autofill, the passkey button): the
        challenge is kept with the interaction until ``verify`` without ``verificationId``."""
        record, options = await PasskeyVerification.start(ctx.turn)
        ctx.exp.verifications[PREFLIGHT] = record
        await ctx.save()
        return {"authenticationOptions": options}

    @router.post("/verification/sign-in-passkey/authentication")
    async def create_passkey_authentication(
        body: PasskeyStart, ctx: Ctx = context
    ) -> dict[str, Any]:
        identifier = identifier_of(body.identifier.type, body.identifier.value)
        record, options = await engine_step(ctx, PasskeyVerification.start(ctx.turn, identifier))
        return {**await keep(ctx, record), "authenticationOptions": options}

    @router.post("/verification/sign-in-passkey/authentication/verify")
    async def verify_passkey_authentication(
        body: PasskeyVerify, ctx: Ctx = context
    ) -> dict[str, str]:
        verification_id = body.verificationId or PREFLIGHT
        record = record_of(ctx, verification_id, "SignInPasskey")
        assert isinstance(record, PasskeyVerification)
        spent = record.verify(ctx.turn, body.payload)  # the challenge is spent, even if refused
        await engine_step(ctx, spent, keep_on_refusal=True)
        if verification_id == PREFLIGHT:  # an ordinary record from now on
            del ctx.exp.verifications[PREFLIGHT]
            return await keep(ctx, record)
        await ctx.save()
        return {"verificationId": verification_id}

    @router.post("/profile/mfa/passkey", **NO_CONTENT)
    async def bind_passkey(body: PasskeyBind, ctx: Ctx = context) -> Response:
        record = ctx.exp.verifications.get(body.verificationId)
        if record is None:
            raise ApiError(404, "session.verification_session_not_found", "Not found.")
        await _step(ctx, factors.bind_passkey(ctx.turn, record))
        return Response(status_code=204)

    @router.post("/profile/mfa/passkey-skipped", **NO_CONTENT)
    async def skip_passkey(ctx: Ctx = context) -> Response:
        await _step(ctx, factors.skip_passkey(ctx.turn))
        return Response(status_code=204)

    @router.post("/profile/mfa", **NO_CONTENT)
    async def bind_mfa_verification(body: BindMfaBody, ctx: Ctx = context) -> Response:
        """Keep a factor proven in this interaction; stored at ``submit``."""
        record = ctx.exp.verifications.get(body.verificationId)
        # A code factor is bound from an ordinary code verification of the new address.
        if record is None or record.type != body.type:
            raise ApiError(404, "session.verification_session_not_found", "Not found.")
        await _step(ctx, factors.bind(ctx.turn, record))
        return Response(status_code=204)

    @router.post("/profile/mfa/mfa-enabled", **NO_CONTENT)
    async def enable_mfa(ctx: Ctx = context) -> Response:
        await _step(ctx, factors.turn_on(ctx.turn))
        return Response(status_code=204)

    @router.post("/profile/mfa/mfa-skipped", **NO_CONTENT)
    async def skip_mfa_binding_flow(ctx: Ctx = context) -> Response:
        await _step(ctx, factors.skip(ctx.turn))
        return Response(status_code=204)

    @router.post("/profile/mfa/trusted-device", **NO_CONTENT)
    async def trust_device(ctx: Ctx = context) -> Response:
        """Remember this browser after the second factor (Logto's development feature):
        the trusted-device cookie comes with ``submit``."""
        await _step(ctx, factors.remember_device(ctx.turn))
        return Response(status_code=204)

    @router.post("/profile/mfa/mfa-suggestion-skipped", **NO_CONTENT)
    async def skip_mfa_suggestion(ctx: Ctx = context) -> Response:
        await _step(ctx, factors.skip_suggestion(ctx.turn))
        return Response(status_code=204)

    return router


async def _web_authn_options(ctx: Ctx, mode: str) -> dict[str, Any]:
    """A new WebAuthn record of this user and its options, under Logto's member name."""
    _identified(ctx)
    start = WebAuthnVerification.registration if mode == REGISTRATION else (
        WebAuthnVerification.authentication)  # fmt: skip
    record, options = await engine_step(ctx, start(ctx.turn))
    return {**await keep(ctx, record), f"{mode}Options": options}


async def _web_authn(ctx: Ctx, body: WebAuthnPayload, mode: str) -> None:
    """Verify the browser's answer for a registration or an authentication of this user."""
    user_id = _identified(ctx)
    record = record_of(ctx, body.verificationId, "WebAuthn")
    if not isinstance(record, WebAuthnVerification) or record.user_id != user_id:
        raise ApiError(404, "session.verification_session_not_found", "Not found.")
    if record.mode != mode:
        raise ApiError(400, "session.mfa.pending_info_not_found", "Start again.")
    spent = record.verify(ctx.turn, body.payload)  # the challenge is spent, even if refused
    await engine_step(ctx, spent, keep_on_refusal=True)
    await ctx.save()


async def _step(ctx: Ctx, work: Any) -> None:
    """Run an engine step, answer its refusal in Logto's terms, keep the state."""
    await engine_step(ctx, work)
    await ctx.save()
