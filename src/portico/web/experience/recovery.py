"""Forgot password: prove the email or phone with a code, then choose a new password.

The code is sent whether or not an account uses the address, and the page says the same
either way (OWASP Forgot Password): only the mailbox owner learns, after entering the code,
that there is no account. A reset clears the account's lockout and does not sign in.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.experience import accounts, conclusion
from portico.experience.answers import StepError
from portico.experience.passwords import new_password
from portico.web.experience import steps
from portico.web.experience.context import Ctx, form_view, view
from portico.web.experience.fields import identifier_of
from portico.web.runtime import Runtime


def kinds(ctx: Ctx) -> list[str]:
    return [kind for kind in ("email", "phone") if ctx.sie.forgot_password_by(kind)]


def form(ctx: Ctx, error: StepError | None = None, identifier: str = "") -> Response:
    values = {"kinds": kinds(ctx), "identifier": identifier}
    if error:
        return ctx.error(
            "forgot_password.html", error.key, error.status, params=error.params, **values
        )
    return ctx.render("forgot_password.html", **values)


def _reset_form(ctx: Ctx, error: StepError | None = None) -> Response:
    if error:
        return ctx.error("reset_password.html", error.key, error.status, params=error.params)
    return ctx.render("reset_password.html")


def routes(runtime: Runtime) -> list[Route]:
    async def page(ctx: Ctx) -> Response:
        if not kinds(ctx):
            return ctx.go("/sign-in")
        return form(ctx)

    async def submit(ctx: Ctx) -> Response:
        raw = ctx.field("identifier")
        try:
            identifier = identifier_of(raw, kinds(ctx))
            ctx.reset("ForgotPassword")
            await steps.send_code(ctx, identifier, "ForgotPassword")
            return ctx.go("/verification-code")
        except StepError as error:
            return form(ctx, error, raw)

    async def reset_page(ctx: Ctx) -> Response:
        if not ctx.exp.reset_user_id:
            return ctx.go("/forgot-password")
        return _reset_form(ctx)

    async def reset(ctx: Ctx) -> Response:
        user_id = ctx.exp.reset_user_id
        if not user_id:
            return ctx.go("/forgot-password")
        user = await accounts.account(ctx.turn.engine, ctx.tenant, user_id)
        if user is None:
            return ctx.go("/forgot-password")
        try:
            hashed = await new_password(
                ctx.turn,
                (ctx.fields.get("password") or [""])[0],
                (ctx.fields.get("confirm") or [""])[0],
                user,
            )
        except StepError as error:
            return _reset_form(ctx, error)
        await conclusion.reset_password(ctx.turn, user_id, hashed)
        ctx.exp.notice = "notice.password_reset"
        await ctx.save()
        return ctx.go("/sign-in")

    return [
        Route("/forgot-password", view(runtime, page), methods=["GET"]),
        Route("/forgot-password", form_view(runtime, submit), methods=["POST"]),
        Route("/forgot-password/reset", view(runtime, reset_page), methods=["GET"]),
        Route("/forgot-password/reset", form_view(runtime, reset), methods=["POST"]),
    ]
