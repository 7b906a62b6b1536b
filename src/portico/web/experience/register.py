"""Create an account: by username and password, or by an email/phone proven with a code."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.experience.answers import StepError
from portico.experience.interaction import Event
from portico.experience.passwords import new_password, username_available
from portico.web.experience import social, sso, steps
from portico.web.experience.context import Ctx, form_view, view
from portico.web.experience.fields import identifier_of
from portico.web.experience.sign_in import needs_terms, restrict
from portico.web.runtime import Runtime


async def form(ctx: Ctx, error: StepError | None = None, identifier: str = "") -> Response:
    values = {
        "socials": await social.buttons(ctx),
        "kinds": restrict(ctx, ctx.sie.signUp.identifiers),
        "needs_terms": needs_terms(ctx, registering=True),
        # As on the sign-in page: the app's ``login_hint`` (an invited email) fills the field.
        "identifier": identifier or ctx.interaction["request"].get("login_hint") or "",
    }
    if error:
        return ctx.error("register.html", error.key, error.status, params=error.params, **values)
    return ctx.render("register.html", **values)


def routes(runtime: Runtime) -> list[Route]:
    async def page(ctx: Ctx) -> Response:
        if not ctx.sie.can_register:
            return ctx.go("/sign-in")
        if ctx.exp.event != Event.REGISTER:
            ctx.reset("Register")
            await ctx.save()
        return await form(ctx)

    async def submit(ctx: Ctx) -> Response:
        if not ctx.sie.can_register:
            return ctx.go("/sign-in")
        raw = ctx.field("identifier")
        try:
            if needs_terms(ctx, registering=True) and ctx.field("agree") != "on":
                raise StepError("error.agree_terms")
            identifier = identifier_of(raw, ctx.sie.signUp.identifiers)
            if identifier.kind == "email" and (offered := await sso.offer(ctx, identifier.value)):
                return offered  # its organization's identity provider makes the account
            ctx.reset("Register")
            if identifier.kind == "username":
                username = await username_available(ctx.turn, raw.strip())
                ctx.exp.profile["username"] = username
                password = (ctx.fields.get("password") or [""])[0]
                if password:
                    confirm = (ctx.fields.get("confirm") or [""])[0]
                    hashed = await new_password(ctx.turn, password, confirm, {"username": username})
                    ctx.exp.profile.update(hashed)
                    ctx.exp.amr = ["pwd"]
                return await steps.advance(ctx)
            await steps.send_code(ctx, identifier, "Register")
            return ctx.go("/verification-code")
        except StepError as error:
            return await form(ctx, error, raw)

    return [
        Route("/register", view(runtime, page), methods=["GET"]),
        Route("/register", form_view(runtime, submit), methods=["POST"]),
    ]
