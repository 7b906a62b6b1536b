"""Profile fulfilment (an identifier or a password the sign-up configuration requires and
the user lacks) and Logto's two transitions: "no account for this email, create one?" and
"an account exists, sign in instead?"."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.experience import accounts
from portico.experience.answers import StepError
from portico.experience.interaction import Event
from portico.experience.passwords import new_password, username_available
from portico.experience.profile import social_identity, still_missing, user_info
from portico.protocol import acr
from portico.web.experience import steps
from portico.web.experience.context import Ctx, form_view, view
from portico.web.experience.fields import identifier_of
from portico.web.runtime import Runtime


async def _user(ctx: Ctx) -> dict[str, Any] | None:
    """The existing account being signed in to, if any."""
    if ctx.exp.event == Event.SIGN_IN and ctx.exp.user_id:
        assert ctx.runtime.engine is not None
        return await accounts.account(ctx.runtime.engine, ctx.tenant, ctx.exp.user_id)
    return None


async def _need(ctx: Ctx) -> str | None:
    if not _in_progress(ctx):
        return None
    return still_missing(ctx.sie, ctx.exp, await _user(ctx), social_identity(ctx.turn))


def _in_progress(ctx: Ctx) -> bool:
    event = ctx.exp.event
    return (event == Event.SIGN_IN and bool(ctx.exp.user_id)) or event == Event.REGISTER


def _continue_form(ctx: Ctx, need: str, error: StepError | None = None) -> Response:
    values = {"need": need}
    if error:
        return ctx.error("continue.html", error.key, error.status, params=error.params, **values)
    return ctx.render("continue.html", **values)


def _password_form(ctx: Ctx, error: StepError | None = None) -> Response:
    if error:
        return ctx.error("set_password.html", error.key, error.status, params=error.params)
    return ctx.render("set_password.html")


def routes(runtime: Runtime) -> list[Route]:
    async def continue_page(ctx: Ctx) -> Response:
        need = await _need(ctx)
        if need is None or need == "password":
            return ctx.go("/password" if need else "/sign-in")
        return _continue_form(ctx, need)

    async def continue_submit(ctx: Ctx) -> Response:
        need = await _need(ctx)
        if need is None or need == "password":
            return ctx.go("/password" if need else "/sign-in")
        allowed = {"email", "phone"} if need == "emailOrPhone" else {need}
        raw = ctx.field("identifier")
        try:
            identifier = identifier_of(raw, allowed)
            if identifier.kind == "username":
                ctx.exp.profile["username"] = await username_available(ctx.turn, raw.strip())
                return await steps.advance(ctx)
            await steps.send_code(ctx, identifier, ctx.exp.event.value, bind=True)
            return ctx.go("/verification-code")
        except StepError as error:
            return _continue_form(ctx, need, error)

    async def password_page(ctx: Ctx) -> Response:
        if not _in_progress(ctx):
            return ctx.go("/sign-in")
        return _password_form(ctx)

    async def password_submit(ctx: Ctx) -> Response:
        if not _in_progress(ctx):
            return ctx.go("/sign-in")
        try:
            hashed = await new_password(
                ctx.turn,
                (ctx.fields.get("password") or [""])[0],
                (ctx.fields.get("confirm") or [""])[0],
                user_info(ctx.exp.profile, await _user(ctx)),
            )
            ctx.exp.profile.update(hashed)
            return await steps.advance(ctx)
        except StepError as error:
            return _password_form(ctx, error)

    async def transition_page(ctx: Ctx) -> Response:
        to = ctx.request.path_params["to"]
        found = ctx.exp.verified_identifier
        if not found or to not in ("register", "sign-in"):
            return ctx.go("/sign-in")
        return ctx.render("transition.html", to=to, identifier=found)

    async def transition(ctx: Ctx) -> Response:
        to = ctx.request.path_params["to"]
        identifier = ctx.exp.verified_identifier
        if not identifier or to not in ("register", "sign-in") or ctx.field("decision") != "yes":
            ctx.reset()
            await ctx.save()
            return ctx.go("/sign-in")
        try:
            proven = [acr.code_method(identifier.kind)]  # the code proved it
            if to == "register":
                if not ctx.sie.can_register:
                    raise StepError("error.account_not_found", 404)
                ctx.reset(Event.REGISTER)
                ctx.exp.profile[identifier.kind] = identifier.value
            else:
                existing = ctx.exp.existing_user_id
                ctx.reset(Event.SIGN_IN)
                ctx.exp.user_id = existing
            ctx.exp.amr = proven
            return await steps.advance(ctx)
        except StepError as error:
            return ctx.error(
                "transition.html", error.key, error.status, to=to, identifier=identifier
            )

    return [
        Route("/continue", view(runtime, continue_page), methods=["GET"]),
        Route("/continue", form_view(runtime, continue_submit), methods=["POST"]),
        Route("/password", view(runtime, password_page), methods=["GET"]),
        Route("/password", form_view(runtime, password_submit), methods=["POST"]),
        Route("/transition/{to}", view(runtime, transition_page), methods=["GET"]),
        Route("/transition/{to}", form_view(runtime, transition), methods=["POST"]),
    ]
