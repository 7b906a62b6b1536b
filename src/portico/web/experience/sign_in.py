"""Sign-in, as Logto's pages do it: identifier and password on one page when every method
is a password; otherwise the identifier first, then the password or a verification code as
its method says (``isPasswordPrimary``), each step offering to switch to the other."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from portico.experience import identification
from portico.experience.answers import StepError
from portico.experience.identifiers import Identifier
from portico.experience.interaction import Event
from portico.experience.verifications import PasskeyVerification, PasswordVerification
from portico.protocol.authorization.request import AuthorizationRequest
from portico.web.experience import social, sso, steps
from portico.web.experience.context import Ctx, credential_of, form_view, view
from portico.web.experience.fields import identifier_of
from portico.web.runtime import Runtime

PASSKEY = "page:passkey"  # the sign-in page's passkey challenge

SCREENS = {
    "register": "/register",
    "identifier:register": "/register",
    "reset_password": "/forgot-password",
    "sign_in": "/sign-in",
    "identifier:sign_in": "/sign-in",
    "signIn": "/sign-in",
    "single_sign_on": "/sign-in",
}


def first_screen(request: AuthorizationRequest) -> str:
    """Where ``/oidc/auth`` sends a user who must sign in: straight to a provider for
    ``direct_sign_in=social:<target>``, else Logto's ``first_screen`` (or the deprecated
    ``interaction_mode=signUp``), else the sign-in page."""
    method, _, target = (request.extra.get("direct_sign_in") or "").partition(":")
    if method == "social" and target:
        return f"/direct/social/{quote(target, safe='')}"
    if method == "sso" and target:
        return f"/direct/sso/{quote(target, safe='')}"
    screen = request.extra.get("first_screen")
    if screen in SCREENS:
        return SCREENS[screen]
    return "/register" if request.extra.get("interaction_mode") == "signUp" else "/sign-in"


def restrict(ctx: Ctx, kinds: list[str]) -> list[str]:
    """Logto's ``identifier`` parameter narrows the identifiers a page offers."""
    wanted = set((ctx.interaction["request"].get("extra") or {}).get("identifier", "").split())
    narrowed = [kind for kind in kinds if kind in wanted]
    return narrowed or kinds


def kinds(ctx: Ctx) -> list[str]:
    return restrict(ctx, [m.identifier for m in ctx.sie.signIn.methods])


def shows_password(ctx: Ctx) -> bool:
    """The one-page form (identifier and password) when every method offered signs in with a
    password only (Logto's password sign-in form); otherwise the identifier comes first and
    its method decides the next step: the password, or a code (see ``submit``)."""
    offered = set(kinds(ctx))
    methods = [m for m in ctx.sie.signIn.methods if m.identifier in offered]
    return bool(methods) and all(m.password and not m.verificationCode for m in methods)


def needs_terms(ctx: Ctx, registering: bool) -> bool:
    policy = ctx.sie.agreeToTermsPolicy
    has_terms = bool(ctx.sie.termsOfUseUrl or ctx.sie.privacyPolicyUrl)
    return has_terms and (
        policy == "Manual" or (registering and policy == "ManualRegistrationOnly")
    )


def can_recover(ctx: Ctx) -> bool:
    return any(ctx.sie.forgot_password_by(kind) for kind in ("email", "phone"))


async def form(
    ctx: Ctx, status: int = 200, error: StepError | None = None, identifier: str = ""
) -> Response:
    link = ctx.interaction.get("socialLink") or {}
    hint = link.get("email") or link.get("phone") or ctx.interaction["request"].get("login_hint")
    passkey = ctx.sie.passkeySignIn
    options: dict[str, Any] | None = None
    if passkey.enabled and ctx.is_preview:
        options = {}  # shown, not usable
    elif passkey.enabled and (passkey.showPasskeyButton or passkey.allowAutofill):
        # A fresh challenge for any of this server's passkeys (the button, the autofill).
        record, options = await PasskeyVerification.start(ctx.turn)
        ctx.exp.verifications[PASSKEY] = record
        await ctx.save()
    values = {
        "passkey_options": options,
        "passkey_button": bool(passkey.showPasskeyButton),
        "passkey_autofill": bool(passkey.allowAutofill),
        "socials": await social.buttons(ctx),
        "kinds": kinds(ctx),
        "show_password": shows_password(ctx),
        "needs_terms": needs_terms(ctx, registering=False),
        # Also before the password step (Logto shows it there only): one click less.
        "can_recover": can_recover(ctx) and any(m.password for m in ctx.sie.signIn.methods),
        "identifier": identifier or hint or "",
    }
    if error:
        return ctx.error("sign_in.html", error.key, error.status, params=error.params, **values)
    return ctx.render("sign_in.html", status=status, **values)


def routes(runtime: Runtime) -> list[Route]:
    async def page(ctx: Ctx) -> Response:
        if not ctx.sie.can_sign_in:
            return ctx.go("/register")
        if ctx.exp.event != Event.SIGN_IN or ctx.exp.user_id:
            ctx.reset()
            await ctx.save()
        return await form(ctx)

    async def submit(ctx: Ctx) -> Response:
        raw = ctx.field("identifier")
        try:
            if needs_terms(ctx, registering=False) and ctx.field("agree") != "on":
                raise StepError("error.agree_terms")
            identifier = identifier_of(raw, kinds(ctx))
            if identifier.kind == "email" and (offered := await sso.offer(ctx, identifier.value)):
                return offered  # the organization's identity provider, not a password
            method = ctx.sie.method(identifier.kind)
            assert method is not None
            ctx.reset("SignIn")
            ctx.exp.identifier = identifier
            password = (ctx.fields.get("password") or [""])[0]
            if password and method.password:
                return await _signed_in_with_password(ctx, identifier, password)
            if method.verificationCode and not (method.password and method.isPasswordPrimary):
                await steps.send_code(ctx, identifier, "SignIn")
                return ctx.go("/verification-code")
            await ctx.save()
            return ctx.go("/sign-in/password")
        except StepError as error:
            return await form(ctx, error=error, identifier=raw)

    async def password_page(ctx: Ctx) -> Response:
        if ctx.exp.identifier is None:
            return ctx.go("/sign-in")
        return _password_form(ctx)

    async def password_submit(ctx: Ctx) -> Response:
        identifier = ctx.exp.identifier
        if identifier is None:
            return ctx.go("/sign-in")
        try:
            if ctx.field("method") == "code":
                await steps.send_code(ctx, identifier, "SignIn")
                return ctx.go("/verification-code")
            return await _signed_in_with_password(
                ctx, identifier, (ctx.fields.get("password") or [""])[0]
            )
        except StepError as error:
            return _password_form(ctx, error)

    async def passkey_submit(ctx: Ctx) -> Response:
        """A passkey chosen with the button or from the autofill: the account is the
        passkey's, and no second factor follows (user verification was required)."""
        record = ctx.exp.verifications.get(PASSKEY)
        if not isinstance(record, PasskeyVerification):
            return ctx.go("/sign-in")
        try:
            await record.verify(ctx.turn, credential_of(ctx))
            if ctx.exp.event != Event.SIGN_IN:
                ctx.exp.event = Event.SIGN_IN
            await identification.sign_in_with(ctx.turn, record)
            return await steps.advance(ctx)
        except StepError as error:
            await ctx.save()
            return await form(ctx, error=error)

    return [
        Route("/sign-in/passkey", form_view(runtime, passkey_submit), methods=["POST"]),
        Route("/sign-in", view(runtime, page), methods=["GET"]),
        Route("/sign-in", form_view(runtime, submit), methods=["POST"]),
        Route("/sign-in/password", view(runtime, password_page), methods=["GET"]),
        Route("/sign-in/password", form_view(runtime, password_submit), methods=["POST"]),
    ]


def _password_form(ctx: Ctx, error: StepError | None = None) -> Response:
    identifier = ctx.exp.identifier
    assert identifier is not None  # the pages route here only with one
    method = ctx.sie.method(identifier.kind)
    values = {
        "identifier": identifier,
        "can_use_code": bool(method and method.verificationCode),
        "can_recover": can_recover(ctx),
    }
    if error:
        return ctx.error(
            "sign_in_password.html", error.key, error.status, params=error.params, **values
        )
    return ctx.render("sign_in_password.html", **values)


async def _signed_in_with_password(ctx: Ctx, identifier: Identifier, password: str) -> Response:
    verification = PasswordVerification(identifier)
    await verification.verify(ctx.turn, password)
    await identification.sign_in_with(ctx.turn, verification)
    return await steps.advance(ctx)
