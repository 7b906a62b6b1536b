"""Two-step verification pages: verify a factor at sign-in (authenticator app or backup
code), turn MFA on or skip it where the policy allows, set up an authenticator app (QR code
and the key to type), and save backup codes (shown once, to copy or download). The rules are
the engine's (``experience/mfa.py``, ``experience/factors.py``); these pages only ask and
show. Every page works without JavaScript."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.experience import accounts, conclusion, factors
from portico.experience.answers import StepError
from portico.experience.identifiers import Identifier
from portico.experience.mfa import IMPLICIT
from portico.experience.next_step import BindMfa, Step, VerifyMfa
from portico.experience.verifications import (
    BackupCodeVerification,
    CodeVerification,
    MfaCodeVerification,
    MfaVerification,
    TotpVerification,
    WebAuthnVerification,
)
from portico.services import mfa as mfa_service
from portico.services.sign_in_experience import MfaFactor
from portico.services.webauthn import MAX_NAME
from portico.web.experience import steps
from portico.web.experience.context import Ctx, credential_of, form_view, view
from portico.web.experience.fields import identifier_of
from portico.web.runtime import Runtime

VERIFIED = "page:mfa"  # the pages' verification records, by fixed ids
NEW_TOTP = "page:totp"
NEW_CODES = "page:backup-codes"
WEBAUTHN_NEW = "page:webauthn-new"
WEBAUTHN_AUTH = "page:webauthn"
SENT = "page:sent:"  # + factor: the code sent for a code factor
CONTACT = "page:contact:"  # + kind: the code sent to an address being bound


def _contact(ctx: Ctx, kind: str) -> CodeVerification | None:
    found = ctx.exp.verifications.get(f"{CONTACT}{kind}")
    return found if isinstance(found, CodeVerification) else None


async def _pending(ctx: Ctx) -> Step | None:
    """What the interaction needs now (the engine decides; nothing is written)."""
    return await conclusion.current_step(ctx.turn) if ctx.exp.user_id else None


def routes(runtime: Runtime) -> list[Route]:
    # Verify ------------------------------------------------------------------------------
    async def verify_page(ctx: Ctx) -> Response:
        step = await _pending(ctx)
        if not isinstance(step, VerifyMfa):
            return await steps.advance(ctx)
        return await _verify_form(ctx, step, ctx.request.query_params.get("factor"))

    async def verify_submit(ctx: Ctx) -> Response:
        step = await _pending(ctx)
        if not isinstance(step, VerifyMfa) or ctx.exp.user_id is None:
            return await steps.advance(ctx)
        factor = ctx.field("factor")
        record: MfaVerification
        sent = ctx.exp.verifications.get(f"{SENT}{factor}")
        asked = ctx.exp.verifications.get(WEBAUTHN_AUTH)
        if factor == MfaFactor.WEB_AUTHN and isinstance(asked, WebAuthnVerification):
            record = asked
        elif factor in IMPLICIT.values() and isinstance(sent, MfaCodeVerification):
            record = sent
        elif factor == MfaFactor.BACKUP_CODE and factor in step.factors:
            record = BackupCodeVerification(ctx.exp.user_id)
        else:
            factor, record = MfaFactor.TOTP, TotpVerification(ctx.exp.user_id)
        try:
            if isinstance(record, WebAuthnVerification):
                await record.verify(ctx.turn, credential_of(ctx))
            else:
                await record.verify(ctx.turn, ctx.field("code", 32))
        except StepError as error:
            await ctx.save()
            return await _verify_form(ctx, step, factor, error)
        ctx.exp.verifications[VERIFIED] = record
        ctx.exp.mfa.remember = (
            ctx.sie.trustedDevice.enabled is True and ctx.field("remember") == "on"
        )
        return await steps.advance(ctx)

    async def verify_send(ctx: Ctx) -> Response:
        """Send the code of an email or SMS factor to the user's own address or number."""
        step = await _pending(ctx)
        factor = ctx.field("factor")
        kind = next((k for k, f in IMPLICIT.items() if f == factor), None)
        if not isinstance(step, VerifyMfa) or kind is None or factor not in step.factors:
            return await steps.advance(ctx)
        user = await accounts.account(ctx.turn.engine, ctx.tenant, ctx.exp.user_id or "")
        address = (user or {}).get(f"primary_{kind}")
        if not address or ctx.exp.user_id is None:
            return await steps.advance(ctx)
        record = MfaCodeVerification(ctx.exp.user_id, Identifier(kind, address))
        try:
            await record.send(ctx.turn)
        except StepError as error:
            return await _verify_form(ctx, step, factor, error)
        ctx.exp.verifications[f"{SENT}{factor}"] = record
        await ctx.save()
        return ctx.go(f"/mfa/verify?factor={factor}")

    # Bind an email or phone as the factor -----------------------------------------------------
    async def contact_page(ctx: Ctx) -> Response:
        kind = ctx.request.path_params["kind"]
        if ctx.exp.user_id is None or kind not in IMPLICIT:
            return ctx.go("/sign-in")
        return ctx.render("mfa_contact.html", kind=kind, sent=_contact(ctx, kind))

    async def contact_submit(ctx: Ctx) -> Response:
        kind = ctx.request.path_params["kind"]
        if ctx.exp.user_id is None or kind not in IMPLICIT:
            return ctx.go("/sign-in")
        sent = _contact(ctx, kind)
        try:
            if sent is not None and ctx.field("code"):
                await sent.verify(ctx.turn, ctx.field("code", 32))
                await factors.bind(ctx.turn, sent)
                return await steps.advance(ctx)
            identifier = identifier_of(ctx.field("identifier"), {kind})
            record = CodeVerification(identifier, "BindMfa")
            await record.send(ctx.turn)
            ctx.exp.verifications[f"{CONTACT}{kind}"] = record
            await ctx.save()
            return ctx.go(f"/mfa/contact/{kind}")
        except StepError as error:
            await ctx.save()
            return ctx.error("mfa_contact.html", error.key, error.status,
                             params=error.params, kind=kind, sent=_contact(ctx, kind))  # fmt: skip

    # A passkey or security key ---------------------------------------------------------------
    async def webauthn_page(ctx: Ctx) -> Response:
        if ctx.exp.user_id is None:
            return ctx.go("/sign-in")
        try:
            record, options = await WebAuthnVerification.registration(ctx.turn)
        except StepError:
            return ctx.go("/sign-in")
        ctx.exp.verifications[WEBAUTHN_NEW] = record
        await ctx.save()
        return ctx.render("mfa_webauthn.html", options=options)

    async def webauthn_submit(ctx: Ctx) -> Response:
        record = ctx.exp.verifications.get(WEBAUTHN_NEW)
        if not isinstance(record, WebAuthnVerification) or record.user_id != ctx.exp.user_id:
            return ctx.go("/mfa/webauthn")
        step = await _pending(ctx)
        as_passkey = isinstance(step, BindMfa) and step.prompt.reason == "passkey"
        record.name = ctx.field("name", MAX_NAME).strip() or None
        try:
            await record.verify(ctx.turn, credential_of(ctx))
            if as_passkey:
                await factors.bind_passkey(ctx.turn, record)
            else:
                await factors.bind(ctx.turn, record)
        except StepError as error:
            await ctx.save()
            fresh, options = await WebAuthnVerification.registration(ctx.turn)
            ctx.exp.verifications[WEBAUTHN_NEW] = fresh
            await ctx.save()
            return ctx.error("mfa_webauthn.html", error.key, error.status, options=options)
        return await steps.advance(ctx)

    async def passkey_skip(ctx: Ctx) -> Response:
        return await _then_advance(ctx, factors.skip_passkey(ctx.turn))

    async def suggestion_skip(ctx: Ctx) -> Response:
        return await _then_advance(ctx, factors.skip_suggestion(ctx.turn))

    # Set up --------------------------------------------------------------------------------
    async def setup_page(ctx: Ctx) -> Response:
        step = await _pending(ctx)
        if not isinstance(step, BindMfa):
            return await steps.advance(ctx)
        prompt = step.prompt
        if prompt.reason == "backup_code":
            return ctx.go("/mfa/backup-codes")
        return ctx.render("mfa_setup.html", prompt=prompt)

    async def enable(ctx: Ctx) -> Response:
        return await _then_advance(ctx, factors.turn_on(ctx.turn))

    async def skip(ctx: Ctx) -> Response:
        return await _then_advance(ctx, factors.skip(ctx.turn))

    async def totp_page(ctx: Ctx) -> Response:
        user_id = ctx.exp.user_id
        if user_id is None:
            return ctx.go("/sign-in")
        record = ctx.exp.verifications.get(NEW_TOTP)
        if not isinstance(record, TotpVerification) or record.user_id != user_id:
            record = TotpVerification.new(user_id)  # a key for this interaction
            ctx.exp.verifications[NEW_TOTP] = record
            await ctx.save()
        return await _totp_form(ctx, record)

    async def totp_submit(ctx: Ctx) -> Response:
        record = ctx.exp.verifications.get(NEW_TOTP)
        if not isinstance(record, TotpVerification) or record.user_id != ctx.exp.user_id:
            return ctx.go("/mfa/totp")
        try:
            await record.verify(ctx.turn, ctx.field("code", 16))
            await factors.bind(ctx.turn, record)
        except StepError as error:
            return await _totp_form(ctx, record, error)
        return await steps.advance(ctx)

    async def codes_page(ctx: Ctx) -> Response:
        user_id = ctx.exp.user_id
        if user_id is None:
            return ctx.go("/sign-in")
        record = ctx.exp.verifications.get(NEW_CODES)
        if not isinstance(record, BackupCodeVerification) or record.user_id != user_id:
            record = BackupCodeVerification.generate(user_id)
            ctx.exp.verifications[NEW_CODES] = record
            await ctx.save()
        return ctx.render("mfa_backup_codes.html", codes=record.codes)

    async def codes_file(ctx: Ctx) -> Response:
        """The same codes as a text file to keep (``download``)."""
        record = ctx.exp.verifications.get(NEW_CODES)
        if not isinstance(record, BackupCodeVerification) or not record.codes:
            return ctx.go("/mfa/backup-codes")
        text = "\n".join(record.codes) + "\n"
        headers = {
            **ctx.headers(),
            "Content-Disposition": 'attachment; filename="backup-codes.txt"',
        }
        return Response(text, media_type="text/plain; charset=utf-8", headers=headers)

    async def codes_submit(ctx: Ctx) -> Response:
        record = ctx.exp.verifications.get(NEW_CODES)
        if not isinstance(record, BackupCodeVerification) or record.user_id != ctx.exp.user_id:
            return ctx.go("/mfa/backup-codes")
        try:
            if ctx.field("saved") != "on":
                raise StepError("error.save_backup_codes")
            await factors.bind(ctx.turn, record)
        except StepError as error:
            return ctx.error("mfa_backup_codes.html", error.key, error.status,
                             params=error.params, codes=record.codes)  # fmt: skip
        return await steps.advance(ctx)

    return [
        Route("/mfa/verify", view(runtime, verify_page), methods=["GET"]),
        Route("/mfa/verify", form_view(runtime, verify_submit), methods=["POST"]),
        Route("/mfa/verify/send", form_view(runtime, verify_send), methods=["POST"]),
        Route("/mfa/contact/{kind}", view(runtime, contact_page), methods=["GET"]),
        Route("/mfa/contact/{kind}", form_view(runtime, contact_submit), methods=["POST"]),
        Route("/mfa/setup", view(runtime, setup_page), methods=["GET"]),
        Route("/mfa/webauthn", view(runtime, webauthn_page), methods=["GET"]),
        Route("/mfa/webauthn", form_view(runtime, webauthn_submit), methods=["POST"]),
        Route("/mfa/passkey/skip", form_view(runtime, passkey_skip), methods=["POST"]),
        Route("/mfa/suggestion/skip", form_view(runtime, suggestion_skip), methods=["POST"]),
        Route("/mfa/enable", form_view(runtime, enable), methods=["POST"]),
        Route("/mfa/skip", form_view(runtime, skip), methods=["POST"]),
        Route("/mfa/totp", view(runtime, totp_page), methods=["GET"]),
        Route("/mfa/totp", form_view(runtime, totp_submit), methods=["POST"]),
        Route("/mfa/backup-codes", view(runtime, codes_page), methods=["GET"]),
        Route("/mfa/backup-codes", form_view(runtime, codes_submit), methods=["POST"]),
        Route("/mfa/backup-codes.txt", view(runtime, codes_file), methods=["GET"]),
    ]


async def _verify_form(
    ctx: Ctx, step: VerifyMfa, wanted: str | None, error: StepError | None = None
) -> Response:
    factor = wanted if wanted in step.factors else step.factors[0]
    options = None
    if factor == MfaFactor.WEB_AUTHN:  # a fresh challenge for the user's authenticators
        record, options = await WebAuthnVerification.authentication(ctx.turn)
        ctx.exp.verifications[WEBAUTHN_AUTH] = record
        await ctx.save()
    remaining = None
    if factor == MfaFactor.BACKUP_CODE and ctx.exp.user_id:
        remaining = await mfa_service.backup_codes_left(
            ctx.turn.engine, ctx.tenant, ctx.exp.user_id
        )
    values = {
        "webauthn_options_json": options,
        "codes_left": remaining,
        "factor": factor,
        "others": [f for f in step.factors if f != factor],
        "masked": step.masked.get(factor, ""),
        "sent": f"{SENT}{factor}" in ctx.exp.verifications,
    }
    if error:
        return ctx.error("mfa_verify.html", error.key, error.status, params=error.params, **values)
    return ctx.render("mfa_verify.html", **values)


async def _totp_form(
    ctx: Ctx, record: TotpVerification, error: StepError | None = None
) -> Response:
    user = await accounts.account(ctx.turn.engine, ctx.tenant, record.user_id)
    if user is None:
        return ctx.go("/sign-in")
    values = {"qr_code": record.qr_code(ctx.turn, user), "secret": record.secret}
    if error:
        return ctx.error("mfa_totp.html", error.key, error.status, params=error.params, **values)
    return ctx.render("mfa_totp.html", **values)


async def _then_advance(ctx: Ctx, work: object) -> Response:
    try:
        await work  # type: ignore[misc]
    except StepError as error:
        step = await _pending(ctx)
        if isinstance(step, BindMfa):
            return ctx.error("mfa_setup.html", error.key, error.status, prompt=step.prompt)
        return await steps.advance(ctx)
    return await steps.advance(ctx)
