"""The verification-code page: enter the code sent by email or SMS, or ask for a new one.
What a verified identifier leads to depends on why the code was sent (its purpose)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.experience import accounts
from portico.experience.answers import StepError
from portico.experience.identifiers import Identifier
from portico.experience.interaction import Event
from portico.web.experience import recovery, register, sign_in, steps
from portico.web.experience.context import Ctx, form_view, view
from portico.web.runtime import Runtime


def _form(ctx: Ctx, error: StepError | None = None, status: int = 200) -> Response:
    pending = ctx.pending()
    assert pending is not None
    values = {
        "recipient": pending,
        "resend_after": 60,
        "code_minutes": ctx.sie.verificationCodePolicy.ttl // 60,
    }
    if error:
        return ctx.error(
            "verification_code.html", error.key, error.status, params=error.params, **values
        )
    return ctx.render("verification_code.html", status=status, **values)


async def _owner(ctx: Ctx, identifier: Identifier) -> dict[str, Any] | None:
    assert ctx.runtime.engine is not None
    return await accounts.owner(ctx.runtime.engine, ctx.tenant, identifier.value)


async def verified(ctx: Ctx, identifier: Identifier, purpose: str, bind: bool) -> Response:
    """Route a freshly verified identifier (Logto's transitions included)."""
    exp = ctx.exp
    exp.pending = None
    owner = await _owner(ctx, identifier)
    if bind:  # profile fulfilment: the identifier must not belong to someone else
        if owner is not None and owner["id"] != exp.user_id:
            await ctx.save()
            raise StepError("error.identifier_taken", 409)
        exp.profile[identifier.kind] = identifier.value
        return await steps.advance(ctx)
    if purpose == "ForgotPassword":
        if owner is None:
            ctx.reset("ForgotPassword")
            await ctx.save()
            raise StepError("error.account_not_found", 404)
        exp.reset_user_id = owner["id"]
        await ctx.save()
        return ctx.go("/forgot-password/reset")
    if purpose == "SignIn":
        if owner is None:
            exp.verified_identifier = identifier
            await ctx.save()
            if not ctx.sie.can_register:
                raise StepError("error.account_not_found", 404)
            return ctx.go("/transition/register")
        exp.user_id = owner["id"]
        return await steps.advance(ctx)
    # Register
    if owner is not None:
        exp.verified_identifier, exp.existing_user_id = identifier, owner["id"]
        await ctx.save()
        return ctx.go("/transition/sign-in")
    exp.profile[identifier.kind] = identifier.value
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
            code = ctx.field("code", 32)
            await steps.check_code(ctx, pending.identifier, pending.purpose, code)
            return await verified(ctx, pending.identifier, pending.purpose, pending.bind)
        except StepError as error:
            if ctx.pending() is None:  # verified, but what it leads to failed
                return await _after_error(ctx, error)
            return _form(ctx, error)

    async def resend(ctx: Ctx) -> Response:
        pending = ctx.exp.pending
        if pending is None:
            return ctx.go("/sign-in")
        try:
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
