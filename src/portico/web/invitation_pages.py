"""The landing page of an organization invitation, ``/invitation/{id}``: the link Portico
puts in the invitation email when the administrator gave none (issue 33).

A Pending invitation shows who invites whom to what, and one button. The button signs the
browser in through ``/oidc/auth`` as Portico's built-in application (``portico-account``,
seeded by ``services/bootstrap``): authorization code with PKCE, the invited email as
``login_hint``, and ``first_screen=register`` when no user has that email yet. So the
invitee signs in or registers on the normal pages, with every check the sign-in
experience asks for (an email used to register is verified by code).

``/invitation/callback`` then trusts nothing from the query but the code: the ``state``
must match the signed, short-lived cookie set by the button (bound to this browser and to
the invitation), the code is redeemed in process with the cookie's PKCE verifier (the
application has no secret, so no one else can redeem it), and the user is the ``sub`` of
the ID token Portico just signed. Acceptance is ``services.organization_invitations``'
(the user's primary email must be the invitee), in one transaction with its audit entry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from portico.protocol import grants
from portico.protocol.errors import OAuthError
from portico.services import audit, organizations
from portico.services import organization_invitations as invitations
from portico.services.bootstrap import ACCOUNT_APP_CALLBACK, ACCOUNT_APP_ID, DEFAULT_TENANT
from portico.services.errors import ServiceError
from portico.web.experience.context import ORG
from portico.web.http import body_params, client_address, page, redirect, with_image_origins
from portico.web.i18n import Translate
from portico.web.runtime import Runtime
from portico.web.security_headers import DEFAULT_CSP

FORM_COOKIE = "portico_invitation_form"  # the button's CSRF token (double submit)
STATE_COOKIE = "portico_invitation"  # state, PKCE verifier and invitation, signed
STATE_TTL = 3600  # as long as a sign-in interaction lives
PURPOSE = "invitation-state"
AUDIT_KEY = "OrganizationInvitation.Accept"
SCOPE = "openid email"


def _challenge(verifier: str) -> str:
    """RFC 7636 §4.2, S256."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _seal(runtime: Runtime, value: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(value).encode()).decode()
    return f"{body}.{await runtime.mac(PURPOSE, body)}"


async def _unseal(runtime: Runtime, cookie: str) -> dict[str, Any] | None:
    """The cookie's content when its tag verifies and it has not expired."""
    body, _, tag = cookie.rpartition(".")
    if not body or not await runtime.mac_matches(PURPOSE, body, tag):
        return None
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body))
    return value if value.get("exp", 0) > time.time() else None


def routes(runtime: Runtime) -> list[Route]:
    redirect_uri = f"{runtime.settings.endpoint}{ACCOUNT_APP_CALLBACK}"

    async def render(
        request: Request, template: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        """A page in the sign-in pages' look (theme, logo, language): the inviting
        organization's branding over the tenant's when the page names the invitation."""
        assert runtime.experiences is not None and runtime.engine is not None
        t: Translate = await runtime.translator(request)
        sie = await runtime.experiences.get(DEFAULT_TENANT)
        view = values.get("view")
        theme_css = None
        if isinstance(view, invitations.Landing):
            async with runtime.engine.connect() as conn:
                branded = await organizations.branded_experience(
                    conn, DEFAULT_TENANT, sie, view.organization_id
                )
            if branded is not sie:
                sie = branded
                theme_css = f"/sign-in-exp/theme.css?{urlencode({ORG: view.organization_id})}"
        policy = with_image_origins(DEFAULT_CSP, sie.branding.logoUrl, sie.branding.darkLogoUrl)
        headers = {"Content-Security-Policy": policy}
        return page(
            template, status=status, headers=headers, t=t, sie=sie, theme_css=theme_css, **values
        )

    async def ended(request: Request, view: invitations.Landing | None) -> HTMLResponse:
        """Unknown (404), or Accepted, Revoked, Expired (410): said, nothing else shown."""
        if view is None:
            return await render(request, "invitation_ended.html", 404, result="unknown")
        return await render(
            request, "invitation_ended.html", 410, result=view.status.lower(), view=view
        )

    async def landing(invitation_id: str) -> invitations.Landing | None:
        assert runtime.engine is not None
        async with runtime.engine.connect() as conn:
            return await invitations.landing(conn, DEFAULT_TENANT, invitation_id[:64])

    async def show(request: Request) -> Response:
        view = await landing(request.path_params["id"])
        if view is None or view.status != invitations.PENDING:
            return await ended(request, view)
        token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
        response = await render(request, "invitation.html", view=view, csrf_token=token)
        runtime.set_cookie(response, FORM_COOKIE, token, STATE_TTL)
        return response

    async def start(request: Request) -> Response:
        """The button: to ``/oidc/auth`` with a fresh state bound to this browser."""
        fields = await body_params(request)
        sent = (fields.get("csrf_token") or [""])[0]
        expected = request.cookies.get(FORM_COOKIE, "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            return await render(
                request, "invitation_refused.html", 403, reason="csrf",
                invitation_id=request.path_params["id"][:64],
            )  # fmt: skip
        view = await landing(request.path_params["id"])
        if view is None or view.status != invitations.PENDING:
            return await ended(request, view)
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        query = {
            "client_id": ACCOUNT_APP_ID,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": SCOPE,
            "state": state,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
            "login_hint": view.invitee,
            ORG: view.organization_id,  # the sign-in pages wear the organization's branding
        }
        if not view.invitee_registered:
            query["first_screen"] = "register"
        if (fields.get("prompt") or [""])[0] == "login":  # "sign in with another account"
            query["prompt"] = "login"
        sealed = {"id": view.id, "state": state, "verifier": verifier,
                  "exp": int(time.time()) + STATE_TTL}  # fmt: skip
        response = redirect(f"/oidc/auth?{urlencode(query)}")
        runtime.set_cookie(response, STATE_COOKIE, await _seal(runtime, sealed), STATE_TTL)
        return response

    async def callback(request: Request) -> Response:
        bound = await _unseal(runtime, request.cookies.get(STATE_COOKIE, ""))
        state = request.query_params.get("state", "")
        if bound is None or not hmac.compare_digest(state.encode(), bound["state"].encode()):
            return await render(request, "invitation_refused.html", 400, reason="state")
        invitation_id: str = bound["id"]
        code = request.query_params.get("code")
        if not code:  # the user cancelled, or the sign-in failed (``error``)
            refusal = await render(
                request, "invitation_refused.html", 400, reason="not_signed_in",
                invitation_id=invitation_id,
            )  # fmt: skip
            return await finish(refusal)
        claims = await _redeem(runtime, code, redirect_uri, bound["verifier"])
        if claims is None:
            return await render(request, "invitation_refused.html", 400, reason="state")
        return await finish(await accept(request, invitation_id, claims))

    async def finish(response: Response) -> Response:
        """The state is single use: whatever the outcome, the cookie goes."""
        response.delete_cookie(STATE_COOKIE, path="/")
        return response

    async def accept(request: Request, invitation_id: str, claims: dict[str, Any]) -> Response:
        assert runtime.engine is not None
        user_id = str(claims["sub"])
        facts = {
            "user_id": user_id,
            "application_id": ACCOUNT_APP_ID,
            "ip": client_address(request),
            "user_agent": request.headers.get("user-agent"),
            "actor": {"type": "user", "id": user_id},
            "params": {"invitationId": invitation_id},
        }
        try:
            async with runtime.engine.begin() as conn:
                row = await invitations.update_status(
                    conn, DEFAULT_TENANT, invitation_id, invitations.ACCEPTED, user_id
                )
                await audit.record(conn, DEFAULT_TENANT, AUDIT_KEY, **facts)
        except ServiceError as refusal:
            async with runtime.engine.begin() as conn:
                await audit.record(
                    conn, DEFAULT_TENANT, AUDIT_KEY, result=audit.LogResult.ERROR,
                    error={"code": refusal.code, "message": refusal.message}, **facts,
                )  # fmt: skip
            return await refused(request, invitation_id, claims)
        view = await landing(row["id"])
        return await render(request, "invitation_joined.html", view=view)

    async def refused(request: Request, invitation_id: str, claims: dict[str, Any]) -> Response:
        """Ended meanwhile: its page; still Pending: the wrong account signed in."""
        view = await landing(invitation_id)
        if view is None or view.status != invitations.PENDING:
            return await ended(request, view)
        token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
        response = await render(
            request, "invitation_refused.html", 403, reason="wrong_account", view=view,
            signed_in_as=claims.get("email") or "", csrf_token=token,
        )  # fmt: skip
        runtime.set_cookie(response, FORM_COOKIE, token, STATE_TTL)
        return response

    return [
        Route(ACCOUNT_APP_CALLBACK, callback, methods=["GET"]),
        Route(f"{invitations.LANDING_PATH}{{id}}", show, methods=["GET"]),
        Route(f"{invitations.LANDING_PATH}{{id}}", start, methods=["POST"]),
    ]


async def _redeem(
    runtime: Runtime, code: str, redirect_uri: str, verifier: str
) -> dict[str, Any] | None:
    """The code redeemed as the token endpoint would (single use, redirect URI, PKCE), the
    built-in application being its own client; the claims of the ID token issued, checked
    like any relying party would (signature, issuer, audience). None when refused."""
    provider = runtime.provider
    assert provider is not None
    client = await provider.client(ACCOUNT_APP_ID)
    handler = grants.handler_for("authorization_code")
    if client is None or handler is None:
        return None
    params = {"code": [code], "redirect_uri": [redirect_uri], "code_verifier": [verifier]}
    try:
        issued = await handler(provider, client, params)
    except OAuthError:
        return None
    ring = await provider.current_keys()
    try:
        token = jwt.decode(
            issued["id_token"], ring.verification_keys, algorithms=list(ring.algorithms)
        )
    except (JoseError, ValueError, KeyError):
        return None
    claims: dict[str, Any] = token.claims
    if claims.get("iss") != provider.issuer or claims.get("aud") != ACCOUNT_APP_ID:
        return None
    return claims if claims.get("sub") else None
