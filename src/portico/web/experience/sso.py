"""Enterprise single sign-on on the pages (Logto's SSO flow): the "Single sign-on" page an
email of a connector's domain leads to, the start (``/sso/<connectorId>``, also
``direct_sign_in=sso:<connectorId>``), and the provider's callback
(``/callback/sso/<connectorId>``).

As for social sign-in, the flow is bound to the interaction: ``start`` keeps a random
``state`` (with the provider's nonce and PKCE verifier) in it; the callback accepts only
that state, once, and checks the provider's answer before any account changes. Then the
identity decides: a linked identity or the owner of its verified email signs in (linked);
anyone else gets a new account (when the sign-in mode allows registration).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portico.experience import identification
from portico.experience.answers import StepError
from portico.experience.verifications import EnterpriseSsoVerification
from portico.experience.verifications.enterprise_sso import MAX_CALLBACK_PARAMS, connectors_for
from portico.sso import provider_class
from portico.web.experience import steps
from portico.web.experience.context import Ctx, view
from portico.web.http import body_params, with_image_origins
from portico.web.runtime import Runtime

PENDING = "sso"  # the interaction's pending SSO record, until its callback


def choices(ctx: Ctx, rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The buttons of the SSO page: each connector's branding (display name, logo), else
    its name and its provider's logo."""
    shown = []
    for row in rows:
        branding = row.get("branding") or {}
        cls = provider_class(row["provider_name"])
        logo = branding.get("logo") or (cls.logo if cls else "")
        shown.append(
            {
                "id": row["id"],
                "name": branding.get("displayName") or row["connector_name"],
                "logo": logo,
            }
        )
    return shown


async def offer(ctx: Ctx, email: str) -> Response | None:
    """The "Single sign-on" page when ``email``'s domain belongs to SSO connectors (instead
    of a password or a code, as Logto's page does); None otherwise."""
    rows = await connectors_for(ctx.turn, email)
    if not rows:
        return None
    buttons = choices(ctx, rows)
    response = ctx.render("sso.html", email=email, connectors=buttons)
    policy = response.headers["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = with_image_origins(
        policy, *(b["logo"] for b in buttons if b["logo"].startswith("http"))
    )
    return response


def routes(runtime: Runtime) -> list[Route]:
    async def start(ctx: Ctx) -> Response:
        """Send the browser to the provider: a GET, as for social sign-in (it only replaces
        this interaction's pending SSO state)."""
        connector_id = ctx.request.path_params["connector_id"]
        redirect_uri = f"{ctx.runtime.settings.endpoint}/callback/sso/{connector_id}"
        try:
            record, url = await EnterpriseSsoVerification.start(
                ctx.turn, connector_id, state=secrets.token_urlsafe(32), redirect_uri=redirect_uri
            )
        except StepError as error:
            return _failed(ctx, error)
        ctx.interaction[PENDING] = record.to_json()
        await ctx.save()
        return RedirectResponse(url, status_code=303)

    async def callback(ctx: Ctx) -> Response:
        connector_id = ctx.request.path_params["connector_id"]
        pending = ctx.interaction.pop(PENDING, None)
        if not pending:
            return _failed(ctx, StepError("error.sso_state", 400))
        record = EnterpriseSsoVerification.from_json(pending)
        query = dict(list(ctx.request.query_params.items())[:MAX_CALLBACK_PARAMS])
        await ctx.save()  # the state is spent before anything else: single use
        try:
            record.take_state(connector_id, query.get("state", ""))
            await record.verify(ctx.turn, query)
            return await _decide(ctx, record)
        except StepError as error:
            return _failed(ctx, error, provider=record.provider)

    async def callback_post(request: Request) -> Response:
        """A provider answering with ``form_post`` POSTs here cross-site, without the
        SameSite interaction cookie: a 303 to the GET callback, which carries it."""
        fields = await body_params(request)
        pairs = [(k, v[0]) for k, v in list(fields.items())[:MAX_CALLBACK_PARAMS] if v]
        target = f"/callback/sso/{request.path_params['connector_id']}?{urlencode(pairs)}"
        return RedirectResponse(target, status_code=303)

    return [
        Route("/sso/{connector_id}", view(runtime, start), methods=["GET"]),
        Route("/direct/sso/{connector_id}", view(runtime, start), methods=["GET"]),
        Route("/callback/sso/{connector_id}", view(runtime, callback), methods=["GET"]),
        Route("/callback/sso/{connector_id}", callback_post, methods=["POST"]),
    ]


async def _decide(ctx: Ctx, record: EnterpriseSsoVerification) -> Response:
    """A linked identity, or the owner of its verified email, signs in; anyone else gets a
    new account (``steps.advance`` creates it)."""
    match = await record.identify_user(ctx.turn)
    if match.user_id or match.related is not None:
        ctx.reset("SignIn")
        await identification.sign_in_with(ctx.turn, record)
        return await steps.advance(ctx)
    if not ctx.sie.can_register:
        raise StepError("error.sso_no_account", 404)
    ctx.reset("Register")
    await identification.register_with(ctx.turn, record)
    return await steps.advance(ctx)


def _failed(ctx: Ctx, error: StepError, **extra: Any) -> Response:
    """A readable page with the reason and a way back to the sign-in page, never a 500."""
    params = {"provider": "", **error.params, **extra}
    return ctx.render("social_error.html", status=error.status, message=ctx.t(error.key, **params))
