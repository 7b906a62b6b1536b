"""The verification-code page: enter the code sent by email or SMS, or ask for a new one.
What a verified identifier leads to depends on why the code was sent (its purpose)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.experience import identification
from portico.experience.answers import StepError
from portico.experience.interaction import Event, PendingCode
from portico.experience.verifications import CodeVerification
from portico.web.experience import recovery, register, sign_in, steps
from portico.web.experience.context import Ctx, form_view, view
from portico.web.runtime import Runtime


def _form(ctx: Ctx, error: StepError | None = None, status: int = 200) -> Response:
    pending = ctx.exp.pending
    assert pending is not None
    values = {
        "recipient": pending.identifier,
        "resend_after": steps.resend_wait(ctx, pending.identifier.value),
        "code_minutes": ctx.sie.verificationCodePolicy.ttl // 60,
        "password_switch": _password_switch(ctx, pending),
    }
    if error:
        return ctx.error(
            "verification_code.html", error.key, error.status, params=error.params, **values
        )
    return ctx.render("verification_code.html", status=status, **values)


def _password_switch(ctx: Ctx, pending: PendingCode) -> bool:
    """A sign-in code page offers the password instead when the method allows one."""
    if pending.purpose != "SignIn" or pending.bind or ctx.exp.identifier != pending.identifier:
        return False
    method = ctx.sie.method(pending.identifier.kind)
    return bool(method and method.password)


async def verified(ctx: Ctx, pending: PendingCode, verification: CodeVerification) -> Response:
    """Route a freshly verified identifier by why it was sent (the engine's
    ``identification`` rules), with Logto's transitions: a sign-in code for an address no
    account uses offers to create one; a sign-up code for one in use offers to sign in."""
    exp, turn, identifier = ctx.exp, ctx.turn, pending.identifier
    exp.pending = None
    try:
        if pending.bind:  # profile fulfilment
            await identification.bind(turn, verification)
        elif pending.purpose == "ForgotPassword":
            await identification.reset_with(turn, verification)
            await ctx.save()
            return ctx.go("/forgot-password/reset")
        elif pending.purpose == "SignIn":
            await identification.sign_in_with(turn, verification)
        else:
            await identification.register_with(turn, verification)
    except StepError as error:
        transition = not pending.bind
        if transition and error.key == "error.account_not_found" and pending.purpose == "SignIn":
            exp.verified_identifier = identifier
            await ctx.save()
            if not ctx.sie.can_register:
                raise
            return ctx.go("/transition/register")
        if transition and error.key == "error.identifier_taken" and pending.purpose == "Register":
            owner = await verification.identify_user(turn)
            assert owner is not None
            exp.verified_identifier, exp.existing_user_id = identifier, str(owner["id"])
            await ctx.save()
            return ctx.go("/transition/sign-in")
        if pending.purpose == "ForgotPassword":
            ctx.reset(Event.FORGOT_PASSWORD)
        await ctx.save()
        raise
    return await steps.advance(ctx)


def routes(runtime: Runtime) -> list[Route]:
    async def page(ctx: Ctx) -> Response:
        if ctx.pending() is None:
            return ctx.go("/sign-in")
        return _form(ctx)

    async def submit(ctx: Ctx) -> Response:
        pending = ctx.exp.pending
        if pending is None:
            return ctx.go("/sign-in")
        try:
            verification = pending.verification()
            await verification.verify(ctx.turn, ctx.field("code", 32))
            return await verified(ctx, pending, verification)
        except StepError as error:
            if ctx.pending() is None:  # verified, but what it leads to failed
                return await _after_error(ctx, error)
            return _form(ctx, error)

    async def resend(ctx: Ctx) -> Response:
        pending = ctx.exp.pending
        if pending is None:
            return ctx.go("/sign-in")
        try:
            if wait := steps.resend_wait(ctx, pending.identifier.value):
                limited = wait > steps.RESEND_INTERVAL  # the send limit, not the pause
                raise StepError(
                    "error.too_many_codes" if limited else "error.resend_wait", 429, seconds=wait
                )
            await steps.send_code(ctx, pending.identifier, pending.purpose, bind=pending.bind)
        except StepError as error:
            return _form(ctx, error)
        ctx.exp.notice = "notice.code_resent"
        await ctx.save()
        return ctx.go("/verification-code")

    return [
        Route("/verification-code", view(runtime, page), methods=["GET"]),
        Route("/verification-code", form_view(runtime, submit), methods=["POST"]),
        Route("/verification-code/resend", form_view(runtime, resend), methods=["POST"]),
    ]


async def _after_error(ctx: Ctx, error: StepError) -> Response:
    """An error once the code is spent: show it on the page the user starts again from."""
    await ctx.save()
    if ctx.exp.event == Event.FORGOT_PASSWORD:
        return recovery.form(ctx, error)
    if ctx.exp.event == Event.REGISTER:
        return await register.form(ctx, error)
    return await sign_in.form(ctx, error=error)
