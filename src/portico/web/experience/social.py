"""Social sign-in: "Continue with Kakao" (or any social connector the admin enabled), the
provider's callback, and the page that links a provider account to an existing user.

The flow is bound to the interaction: ``start`` stores a random ``state`` (with what the
connector needs later, such as a PKCE verifier or an OIDC nonce) in the interaction; the
callback accepts only that state, once, from the same browser, and checks everything the
provider returned before any account changes. Then the identity decides:
- known identity -> sign in as its user;
- a user has the provider's verified email/phone -> link (automatically when
  ``socialSignIn.automaticAccountLinking`` is on, otherwise after the user signs in to it);
- otherwise -> a new account from the provider's profile (through ``steps.advance``, so profile
  fulfilment applies), when the sign-in mode allows registration.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portico.experience import identification
from portico.experience.answers import StepError
from portico.experience.profile import new_profile
from portico.experience.verifications import SocialVerification
from portico.experience.verifications.social import MAX_CALLBACK_PARAMS
from portico.web.experience import steps
from portico.web.experience.context import Ctx, form_view, view
from portico.web.http import body_params
from portico.web.runtime import Runtime

STATIC = Path(__file__).resolve().parent.parent / "static"
LOGOS = "/static/connectors/"


async def buttons(ctx: Ctx) -> list[dict[str, str]]:
    """The social buttons of the sign-in and register pages: the connectors whose target
    the admin listed in ``socialSignInConnectorTargets``, in that order."""
    runtime = ctx.runtime
    assert runtime.connectors is not None
    targets = ctx.sie.socialSignInConnectorTargets
    if not targets:
        return []
    found = {}
    for connector in await runtime.connectors.socials(ctx.tenant):
        found.setdefault(connector["target"], connector)  # the oldest per target wins
    lang = ctx.t("meta.lang_tag")
    return [
        {
            "id": found[target]["id"],
            "target": target,
            "name": _name(found[target], lang),
            "logo": _logo(found[target].get("logo")),
        }
        for target in targets
        if target in found
    ]


def _logo(logo: str | None) -> str:
    """The connector's logo when this server serves it (the pages' CSP loads images from
    here only), else a plain key icon."""
    if (
        logo
        and logo.startswith(LOGOS)
        and ".." not in logo
        and (STATIC / logo.removeprefix("/static/")).is_file()
    ):
        return logo
    return f"{LOGOS}social.svg"


def _name(connector: dict[str, Any], lang: str) -> str:
    names = connector.get("name") or {}
    if isinstance(names, str):
        return names
    return (
        names.get(lang) or names.get(lang.split("-")[0]) or names.get("en") or connector["target"]
    )


def routes(runtime: Runtime) -> list[Route]:
    async def start_by_id(ctx: Ctx) -> Response:
        return await _start(ctx, ctx.request.path_params["connector_id"])

    async def start_by_target(ctx: Ctx) -> Response:
        """``direct_sign_in=social:<target>`` lands here, skipping the sign-in page."""
        target = ctx.request.path_params["target"]
        for button in await buttons(ctx):
            if button["target"] == target:
                return await _start(ctx, button["id"])
        return _failed(ctx, "error.social_not_enabled", 404, provider=target)

    async def callback(ctx: Ctx) -> Response:
        return await _callback(ctx, ctx.request.path_params["connector_id"])

    async def callback_post(request: Request) -> Response:
        """Providers answering with ``response_mode=form_post`` POST here cross-site, where
        the SameSite interaction cookie is not sent: turn it into a 303 GET (as Logto does),
        which carries the cookie, and check everything there."""
        fields = await body_params(request)
        pairs = [(k, v[0]) for k, v in list(fields.items())[:MAX_CALLBACK_PARAMS] if v]
        target = f"/callback/{request.path_params['connector_id']}?{urlencode(pairs)}"
        return RedirectResponse(target, status_code=303)

    async def link_page(ctx: Ctx) -> Response:
        pending = ctx.interaction.get("socialLink")
        if not pending:
            return ctx.go("/sign-in")
        return ctx.render("social_link.html", link=pending)

    async def link_submit(ctx: Ctx) -> Response:
        pending = ctx.interaction.get("socialLink")
        if not pending:
            return ctx.go("/sign-in")
        if ctx.field("choice") == "register" and ctx.sie.can_register:
            ctx.interaction.pop("socialLink", None)
            ctx.reset("Register")
            ctx.exp.social = pending["identity"]
            ctx.exp.profile = new_profile(pending["info"], taken=True)  # theirs is in use
            ctx.exp.amr = ["fed"]
            try:
                return await steps.advance(ctx)
            except StepError as error:
                return ctx.error("social_link.html", error.key, error.status, link=pending)
        ctx.reset("SignIn")
        ctx.exp.notice = "notice.sign_in_to_link"
        await ctx.save()
        return ctx.go("/sign-in")

    return [  # /social/link before /social/{connector_id}, which would match it
        Route("/social/link", view(runtime, link_page), methods=["GET"]),
        Route("/social/link", form_view(runtime, link_submit), methods=["POST"]),
        Route("/social/{connector_id}", view(runtime, start_by_id), methods=["GET"]),
        Route("/direct/social/{target}", view(runtime, start_by_target), methods=["GET"]),
        Route("/callback/{connector_id}", view(runtime, callback), methods=["GET"]),
        Route("/callback/{connector_id}", callback_post, methods=["POST"]),
    ]


# Start ----------------------------------------------------------------------------------------
async def _start(ctx: Ctx, connector_id: str) -> Response:
    """Send the browser to the provider. Starting is safe as a GET (a plain link): it only
    replaces this interaction's pending social state, and the callback accepts nothing that
    this browser's interaction did not ask for."""
    enabled = {b["id"]: b for b in await buttons(ctx)}
    if connector_id not in enabled:
        return _failed(ctx, "error.social_not_enabled", 404, provider=connector_id)
    provider = enabled[connector_id]["name"]
    redirect_uri = f"{ctx.runtime.settings.endpoint}/callback/{connector_id}"
    try:
        record, url = await SocialVerification.start(
            ctx.turn, connector_id, provider,
            state=secrets.token_urlsafe(32), redirect_uri=redirect_uri,
        )  # fmt: skip
    except StepError as error:
        return _failed(ctx, error.key, error.status, **error.params)
    ctx.interaction["social"] = record.to_json()
    await ctx.save()
    return RedirectResponse(url, status_code=303)


# Callback -------------------------------------------------------------------------------------
async def _callback(ctx: Ctx, connector_id: str) -> Response:
    pending = ctx.interaction.pop("social", None)
    if not pending:
        return _failed(ctx, "error.social_state", 400)
    record = SocialVerification.from_json(pending)
    query = dict(list(ctx.request.query_params.items())[:MAX_CALLBACK_PARAMS])
    await ctx.save()  # the state is spent before anything else: single use
    try:
        record.take_state(connector_id, query.get("state", ""))
        await record.verify(ctx.turn, query)
        # The provider's page (a form it submitted) may forbid the onward trip: go on in a
        # navigation of our own, as after enterprise SSO (Ctx.in_a_new_navigation).
        return ctx.in_a_new_navigation(await _decide(ctx, record))
    except StepError as error:
        params = {"provider": record.provider, **error.params}
        return _failed(ctx, error.key, error.status, **params)


async def _decide(ctx: Ctx, record: SocialVerification) -> Response:
    """A known identity (or, with automatic linking, the owner of the provider's email)
    signs in; an identity whose email or phone an account has goes to the link page; any
    other creates an account (through ``steps.advance``, so profile fulfilment applies)."""
    ctx.interaction.pop("socialLink", None)
    match = await record.identify_user(ctx.turn)
    if identification.social_user(ctx.turn, match, link=False):
        ctx.reset("SignIn")
        await identification.sign_in_with(ctx.turn, record)
        return await steps.advance(ctx)
    related, info = match.related, record.info or {}
    if related is not None:
        ctx.interaction["socialLink"] = {
            "identity": record.identity,
            "info": info,
            "email": related.get("primary_email") or "",
            "phone": related.get("primary_phone") or "",
        }
        await ctx.save()
        return ctx.go("/social/link")
    if not ctx.sie.can_register:
        raise StepError("error.social_no_account", 404)
    ctx.reset("Register")
    await identification.register_with(ctx.turn, record)
    return await steps.advance(ctx)


def _failed(ctx: Ctx, key: str, status: int, **params: Any) -> Response:
    """A readable page with the reason and a way back to the sign-in page."""
    return ctx.render(
        "social_error.html",
        status=status,
        message=ctx.t(key, **params),
    )
