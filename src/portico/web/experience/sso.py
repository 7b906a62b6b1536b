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

import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portico.experience import identification
from portico.experience.answers import StepError
from portico.experience.verifications import EnterpriseSsoVerification
from portico.experience.verifications.enterprise_sso import (
    MAX_CALLBACK_PARAMS,
    connector,
    connectors_for,
    display_name,
)
from portico.sso import provider_class
from portico.web import sso_acs
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
        this interaction's pending SSO state). A browser back from an IdP-initiated SAML
        sign-in for this connector signs in with that assertion instead."""
        connector_id = ctx.request.path_params["connector_id"]
        redirect_uri = f"{ctx.runtime.settings.endpoint}/callback/sso/{connector_id}"
        if ctx.request.cookies.get(sso_acs.IDP_COOKIE):
            return await _idp_initiated(ctx, connector_id, redirect_uri)
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
        relay_state = ctx.request.query_params.get("RelayState")
        if relay_state is not None:
            return await _saml_callback(ctx, connector_id, relay_state)
        pending = ctx.interaction.pop(PENDING, None)
        if not pending:
            return _failed(ctx, StepError("error.sso_state", 400))
        record = EnterpriseSsoVerification.from_json(pending)
        query = dict(list(ctx.request.query_params.items())[:MAX_CALLBACK_PARAMS])
        await ctx.save()  # the state is spent before anything else: single use
        try:
            record.take_state(connector_id, query.get("state", ""))
            await record.verify(ctx.turn, query)
            return ctx.in_a_new_navigation(await _decide(ctx, record))
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
        *sso_acs.routes(runtime),  # SAML's assertion consumer service (no interaction)
    ]


async def _saml_callback(ctx: Ctx, connector_id: str, relay_state: str) -> Response:
    """The browser back from the ACS with its RelayState: the checked assertion kept for it
    (taken once) must belong to a sign-in of this interaction with that RelayState, and
    answer that sign-in's request (InResponseTo). The pages' sign-in goes on here; an
    Experience API sign-in goes back to its SPA with its state, which ``/verify`` spends."""
    kept = await sso_acs.take(ctx.runtime, sso_acs.RESULT, relay_state)
    found = _saml_record(ctx, relay_state)
    if kept is None or found is None or kept.get("connectorId") != connector_id:
        return _failed(ctx, StepError("error.sso_state", 400))
    key, record = found
    if record.connector_id != connector_id:
        return _failed(ctx, StepError("error.sso_state", 400))
    assertion = kept["assertion"]
    if assertion.get("inResponseTo") != record.session.get("requestId"):
        await ctx.turn.audit(
            sso_acs.SUBMIT, error="connector.authorization_failed",
            connectorId=connector_id, reason="wrong_in_response_to",
        )  # fmt: skip
        if key is None:
            ctx.interaction.pop(PENDING, None)
        else:
            ctx.exp.verifications.pop(key, None)
        await ctx.save()
        failed = StepError("error.sso_failed", 400, code="connector.authorization_failed")
        return _failed(ctx, failed, provider=record.provider)
    record.session = {**record.session, "assertion": assertion}
    if key is not None:  # the Experience API's record: its SPA verifies it
        await ctx.save()
        separator = "&" if "?" in record.redirect_uri else "?"
        query = urlencode({"state": record.state or ""})
        return RedirectResponse(f"{record.redirect_uri}{separator}{query}", status_code=303)
    ctx.interaction.pop(PENDING, None)
    await ctx.save()  # single use, before anything else
    try:
        record.take_state(connector_id, record.state or "")
        await record.verify(ctx.turn, {})
        return await _decide(ctx, record)
    except StepError as error:
        return _failed(ctx, error, provider=record.provider)


def _saml_record(ctx: Ctx, relay_state: str) -> tuple[str | None, EnterpriseSsoVerification] | None:
    """The interaction's SAML sign-in with this RelayState: the pages' pending one (key
    None) or an Experience API verification (its id)."""
    pending = ctx.interaction.get(PENDING)
    candidates: list[tuple[str | None, Any]] = []
    if pending:
        candidates.append((None, EnterpriseSsoVerification.from_json(pending)))
    candidates += list(ctx.exp.verifications.items())
    for key, record in candidates:
        if not isinstance(record, EnterpriseSsoVerification):
            continue
        expected = str(record.session.get("relayState") or "")
        if expected and hmac.compare_digest(expected.encode(), relay_state.encode()):
            return key, record
    return None


async def _idp_initiated(ctx: Ctx, connector_id: str, redirect_uri: str) -> Response:
    """Logto's IdP-initiated SAML sign-in: the assertion the ACS kept for this browser's
    cookie (taken once, this connector's only) signs in, without another trip to the IdP."""
    token = ctx.request.cookies.get(sso_acs.IDP_COOKIE, "")
    kept = await sso_acs.take(ctx.runtime, sso_acs.IDP_SESSION, token)
    if kept is None or kept.get("connectorId") != connector_id:
        response = _failed(ctx, StepError("error.sso_state", 400))
    else:
        try:
            row, _ = await connector(ctx.turn, connector_id)
            session = {"assertion": kept["assertion"]}
            record = EnterpriseSsoVerification(
                connector_id, display_name(row), redirect_uri, None, session
            )
            await record.verify(ctx.turn, {})
            response = ctx.in_a_new_navigation(await _decide(ctx, record))
        except StepError as error:
            response = _failed(ctx, error)
    response.delete_cookie(sso_acs.IDP_COOKIE, path="/")
    return response


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
