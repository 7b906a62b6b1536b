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

import hmac
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portico.connectors import ConnectorError
from portico.connectors.kit import SocialUserInfo
from portico.connectors.social import SocialErrorCode
from portico.experience import accounts
from portico.experience.answers import StepError
from portico.services import emails, identities, phones
from portico.web.experience import steps
from portico.web.experience.context import Ctx, form_view, log, view
from portico.web.http import body_params
from portico.web.runtime import Runtime

MAX_CALLBACK_PARAMS = 32

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


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
            "logo": found[target].get("logo") or "",
        }
        for target in targets
        if target in found
    ]


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
            ctx.exp.profile = new_profile(pending["info"], taken=True)
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
    runtime = ctx.runtime
    assert runtime.connectors is not None
    enabled = {b["id"]: b for b in await buttons(ctx)}
    if connector_id not in enabled:
        return _failed(ctx, "error.social_not_enabled", 404, provider=connector_id)
    provider = enabled[connector_id]["name"]
    state = secrets.token_urlsafe(32)
    session: dict[str, Any] = {}
    redirect_uri = f"{runtime.settings.endpoint}/callback/{connector_id}"
    try:
        connector, _ = await runtime.connectors.social(ctx.tenant, connector_id)
        url = await connector.authorization_uri(
            state=state, redirect_uri=redirect_uri, connector_id=connector_id, session=session
        )
    except ConnectorError as error:
        log.warning("social sign-in %s could not start: %s", connector_id, error.admin_message)
        return _failed(ctx, "error.social_failed", 502, provider=provider)
    ctx.interaction["social"] = {
        "connectorId": connector_id,
        "state": state,
        "session": session,
        "redirectUri": redirect_uri,
        "provider": provider,
    }
    await ctx.save()
    return RedirectResponse(url, status_code=303)


# Callback -------------------------------------------------------------------------------------
async def _callback(ctx: Ctx, connector_id: str) -> Response:
    runtime = ctx.runtime
    assert runtime.connectors is not None and runtime.engine is not None
    pending = ctx.interaction.pop("social", None)
    query = dict(list(ctx.request.query_params.items())[:MAX_CALLBACK_PARAMS])
    state = query.get("state", "")
    if (
        not pending
        or pending["connectorId"] != connector_id
        or not hmac.compare_digest(state.encode(), pending["state"].encode())
    ):
        if pending:  # a wrong state still spends the pending one: single use
            await ctx.save()
        return _failed(ctx, "error.social_state", 400)
    await ctx.save()  # consumed before the provider is called
    provider = pending["provider"]
    if query.get("error"):
        log.info("social sign-in %s ended by the provider: %s", connector_id, query["error"][:64])
        return _failed(ctx, "error.social_cancelled", 400, provider=provider)
    try:
        connector, found = await runtime.connectors.social(ctx.tenant, connector_id)
        info = await connector.user_info(
            {**query, "redirectUri": pending["redirectUri"]}, pending["session"]
        )
    except ConnectorError as error:
        log.warning(
            "social sign-in %s failed: [%s/%s] %s",
            connector_id,
            error.code,
            error.reason,
            error.admin_message,
        )
        await ctx.audit(
            "Interaction.SignIn.Verification.Social.Submit",
            error=error.code,
            connectorId=connector_id,
            reason=error.reason,
        )
        key = (
            "error.social_cancelled"
            if error.code == SocialErrorCode.AuthorizationFailed
            else "error.social_failed"
        )
        return _failed(ctx, key, 502 if key == "error.social_failed" else 400, provider=provider)
    info = normalised(info)
    identity = {
        "target": found["target"],
        "id": info.id,
        "details": details_of(info),
        "provider": provider,
        "syncProfile": bool(found.get("syncProfile")),
    }
    try:
        return await _decide(ctx, identity, info)
    except StepError as error:
        return _failed(ctx, error.key, error.status, **{"provider": provider, **error.params})


def normalised(info: SocialUserInfo) -> SocialUserInfo:
    """The provider's email and phone number in the one stored form (``services/emails``,
    E.164 digits), so they find and link the same account a typed one would; one that has
    no such form is not used at all. The pages and the Experience API both take the
    provider's profile through this."""
    return info.model_copy(
        update={
            "email": info.email and emails.canonical(info.email),
            "phone": info.phone and phones.normalise(info.phone),
        }
    )


async def _decide(ctx: Ctx, identity: dict[str, Any], info: SocialUserInfo) -> Response:
    runtime = ctx.runtime
    assert runtime.engine is not None
    ctx.interaction.pop("socialLink", None)
    async with runtime.engine.connect() as conn:
        user_id = await identities.find_user_id(conn, ctx.tenant, identity["target"], info.id)
    related = None if user_id else await related_user(runtime.engine, ctx.tenant, info)
    if user_id:  # a known identity: sign in
        ctx.reset("SignIn")
        ctx.exp.user_id, ctx.exp.social = user_id, identity
        return await steps.advance(ctx)
    if related is not None:
        if ctx.sie.socialSignIn.automaticAccountLinking:
            ctx.reset("SignIn")
            ctx.exp.user_id, ctx.exp.social = related["id"], identity
            return await steps.advance(ctx)
        ctx.interaction["socialLink"] = {
            "identity": identity,
            "info": info.model_dump(exclude={"rawData"}),
            "email": related.get("primary_email") or "",
            "phone": related.get("primary_phone") or "",
        }
        await ctx.save()
        return ctx.go("/social/link")
    if not ctx.sie.can_register:
        raise StepError("error.social_no_account", 404)
    ctx.reset("Register")
    ctx.exp.social, ctx.exp.profile = identity, new_profile(info.model_dump(), taken=False)
    return await steps.advance(ctx)


async def related_user(
    engine: AsyncEngine, tenant: str, info: SocialUserInfo
) -> dict[str, Any] | None:
    """The user who owns the provider's (verified) email, else its phone number."""
    for value in (info.email, info.phone):
        if value:
            user = await accounts.owner(engine, tenant, value)
            if user is not None:
                return user
    return None


def new_profile(info: dict[str, Any], *, taken: bool) -> dict[str, Any]:
    """What a new account takes from the provider. The email/phone belong to someone else
    when ``taken`` (the user chose a separate account), so they are left out."""
    profile = steps.provider_profile(info)
    if not taken:
        for key in ("email", "phone"):
            if info.get(key):
                profile[key] = info[key]
    return profile


def details_of(info: SocialUserInfo) -> dict[str, Any]:
    """What Logto keeps under ``identities[target].details``."""
    details: dict[str, Any] = {"id": info.id}
    for key in ("name", "email", "phone", "avatar"):
        if getattr(info, key):
            details[key] = getattr(info, key)
    if info.rawData is not None:
        details["rawData"] = info.rawData
    return details


def _failed(ctx: Ctx, key: str, status: int, **params: Any) -> Response:
    """A readable page with the reason and a way back to the sign-in page."""
    return ctx.render(
        "social_error.html",
        status=status,
        message=ctx.t(key, **params),
    )
