"""Portico as a SAML identity provider, the anonymous side (Logto's paths):
``GET /api/saml-applications/{id}/metadata``, the SSO service ``/api/saml/{id}/authn``
(HTTP-Redirect: GET, HTTP-POST: POST), and ``GET /api/saml-applications/{id}/callback``.

SP-initiated: the AuthnRequest is verified (``saml_idp.entity.parse_request``: signature
when signed, Destination, age), its issuer must be the configured SP entity ID and its ACS
URL (when given) the configured one. Its ID and RelayState are kept in a
``SamlApplicationSession`` artifact (one hour, as Logto's sessions) named by the digest of a
random cookie value, with a fresh OIDC ``state`` and PKCE verifier; the browser goes to
``/oidc/auth`` with the SAML application as client (``prompt=login``, as Logto), signs in
on the hosted pages and comes back to the callback. The callback takes the session once
(consumed whatever the outcome), checks ``state`` in constant time, redeems the code in
process with the verifier (the application has no secret: only Portico redeems its codes),
reads the user's claims through userinfo as Logto does, and answers with a form that posts
the signed ``SAMLResponse`` to the ACS URL (``static/saml-post.js`` submits it: no inline
script; without JavaScript the user presses Continue).

IdP-initiated: ``GET /api/saml/{id}/sign-in`` (Portico's; Logto accepts a callback without
``state`` instead, which binds nothing to the browser) starts the same session without a
request, and the response has no ``InResponseTo``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from joserfc import jws
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portico.ids import digest
from portico.protocol import grants
from portico.protocol.errors import OAuthError
from portico.protocol.sessions import SESSION_TTL as SIGN_IN_SESSION_TTL
from portico.protocol.userinfo import userinfo
from portico.saml_idp import entity, subject
from portico.saml_idp.formats import Binding
from portico.services import audit
from portico.services import saml_applications as service
from portico.services.bootstrap import DEFAULT_TENANT
from portico.services.errors import ServiceError
from portico.web.http import body_params, client_address, page, redirect
from portico.web.i18n import Translate
from portico.web.runtime import Runtime

SESSION = "SamlApplicationSession"
SESSION_TTL = 3600  # Logto's sixty minutes
COOKIE = "portico_saml"
MAX_RELAY_STATE = 512  # Logto's column
MAX_REQUEST = 64 * 1024
AUTHN_KEY = "SamlApplication.AuthnRequest"
CALLBACK_KEY = "SamlApplication.Callback"


class Refusal(Exception):
    """A SAML request or callback Portico answers with an error page."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@functools.lru_cache(maxsize=4)
def _sealer(key: bytes) -> service.KeySealer:
    return service.KeySealer(key)


def key_sealer(runtime: Runtime) -> service.KeySealer:
    """The sealer of SAML signing keys (the server's encryption key), one per process."""
    return _sealer(runtime.settings.encryption_key_bytes())


def _challenge(verifier: str) -> str:
    """RFC 7636 §4.2, S256."""
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def _error_page(refusal: Refusal, t: Translate) -> Response:
    """The refusal on a page in the user's language (the message is the service's, in
    English as /api gives it, with Logto's code)."""
    return page(
        "error.html", status=refusal.status, t=t, title=t("error.sso_failed_title"),
        message=refusal.message, code=refusal.code, detail=None,
    )  # fmt: skip


def routes(runtime: Runtime) -> list[Route]:
    endpoint = runtime.settings.endpoint.rstrip("/")

    async def load(app_id: str) -> service.SamlApp:
        assert runtime.engine is not None
        try:
            async with runtime.engine.connect() as conn:
                return await service.load(
                    conn, DEFAULT_TENANT, key_sealer(runtime), endpoint, app_id
                )
        except ServiceError as refused:
            raise Refusal(refused.code, refused.message, refused.status) from None

    async def record(request: Request, key: str, app_id: str, **facts: Any) -> None:
        assert runtime.engine is not None
        async with runtime.engine.begin() as conn:
            await audit.record(
                conn, DEFAULT_TENANT, key, application_id=app_id[:64],
                ip=client_address(request), user_agent=request.headers.get("user-agent"),
                **facts,
            )  # fmt: skip

    async def refused(request: Request, key: str, app_id: str, refusal: Refusal) -> Response:
        error = {"code": refusal.code, "message": refusal.message}
        await record(request, key, app_id, result=audit.LogResult.ERROR, error=error)
        return _error_page(refusal, await runtime.translator(request))

    async def metadata(request: Request) -> Response:
        try:
            app = await load(request.path_params["id"])
        except Refusal as refusal:
            body = {"code": refusal.code, "message": refusal.message}
            return JSONResponse(body, status_code=refusal.status)
        xml = await asyncio.to_thread(entity.metadata, app.idp)
        return Response(xml, media_type="text/xml;charset=utf-8")

    async def authn_redirect(request: Request) -> Response:
        query = request.query_params
        return await start(
            request, Binding.REDIRECT, query.get("SAMLRequest"), query.get("RelayState"),
            query.get("SigAlg"), query.get("Signature"),
        )  # fmt: skip

    async def authn_post(request: Request) -> Response:
        fields = await body_params(request)
        first: dict[str, str | None] = {name: values[0] if values else None
                                        for name, values in fields.items()}  # fmt: skip
        return await start(
            request, Binding.POST, first.get("SAMLRequest"), first.get("RelayState"), None, None
        )

    async def start(
        request: Request, binding: Binding, saml_request: str | None, relay_state: str | None,
        sig_alg: str | None, signature: str | None,
    ) -> Response:  # fmt: skip
        app_id = request.path_params["id"]
        try:
            if not saml_request or len(saml_request) > MAX_REQUEST:
                raise Refusal("guard.invalid_input", "`SAMLRequest` is required.")
            check_relay_state(relay_state)
            app = await load(app_id)
            sp = require_sp(app)
            parsed = await asyncio.to_thread(
                entity.parse_request, app.idp, sp, binding, saml_request,
                relay_state=relay_state, sig_alg=sig_alg, signature=signature,
            )  # fmt: skip
            check_request(parsed, sp)
        except entity.SamlRequestError as problem:
            return await refused(request, AUTHN_KEY, app_id, Refusal(problem.code, problem.message))
        except Refusal as refusal:
            return await refused(request, AUTHN_KEY, app_id, refusal)
        await record(request, AUTHN_KEY, app_id, samlRequestId=parsed.id, binding=binding.value)
        return await sign_in(app, parsed.id, relay_state)

    async def idp_initiated(request: Request) -> Response:
        app_id = request.path_params["id"]
        relay_state = request.query_params.get("RelayState")
        try:
            check_relay_state(relay_state)
            app = await load(app_id)
            require_sp(app)
        except Refusal as refusal:
            return await refused(request, AUTHN_KEY, app_id, refusal)
        return await sign_in(app, None, relay_state)

    async def sign_in(
        app: service.SamlApp, request_id: str | None, relay_state: str | None
    ) -> Response:
        """To ``/oidc/auth`` as the application, with a session bound to this browser."""
        assert runtime.provider is not None
        token, state, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        session = {"applicationId": app.id, "samlRequestId": request_id,
                   "relayState": relay_state, "state": state, "verifier": verifier}  # fmt: skip
        await runtime.provider.artifacts.save(SESSION, digest(token), session, SESSION_TTL)
        query = {
            "client_id": app.id,
            "redirect_uri": app.redirect_uri,
            "response_type": "code",
            "prompt": "login",
            "scope": " ".join(subject.scopes_for(app.attribute_mapping, app.idp.name_id_format)),
            "state": state,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
        response = redirect(f"/oidc/auth?{urlencode(query)}")
        runtime.set_cookie(response, COOKIE, token, SESSION_TTL)
        return response

    async def callback(request: Request) -> Response:
        app_id = request.path_params["id"]
        try:
            session = await take_session(request, app_id)
            app = await load(app_id)
            sp = require_sp(app)
            if app.redirect_uri != service.callback_url(endpoint, app_id):
                raise Refusal("oidc.invalid_redirect_uri", "The redirect URI does not match.")
            claims, auth_time = await redeem(app, request.query_params, session["verifier"])
            name_id = subject.name_id(claims, app.idp.name_id_format)
            values = subject.attributes(claims, app.attribute_mapping)
            # The SP's session should end no later than the sign-in session it came from.
            session_end = datetime.datetime.fromtimestamp(
                auth_time + SIGN_IN_SESSION_TTL, datetime.UTC
            )
            saml_response = await asyncio.to_thread(
                entity.login_response, app.idp, sp, name_id=name_id, attributes=values,
                in_response_to=session.get("samlRequestId"), authn_instant=auth_time,
                session_not_on_or_after=session_end,
            )  # fmt: skip
        except entity.SamlRequestError as problem:
            refusal = Refusal(problem.code, problem.message)
            return await finish(await refused(request, CALLBACK_KEY, app_id, refusal))
        except Refusal as refusal:
            return await finish(await refused(request, CALLBACK_KEY, app_id, refusal))
        await record(
            request, CALLBACK_KEY, app_id, user_id=str(claims["sub"]),
            samlRequestId=session.get("samlRequestId"), acsUrl=sp.acs_url,
        )  # fmt: skip
        return await finish(post_form(sp.acs_url, saml_response, session.get("relayState")))

    async def take_session(request: Request, app_id: str) -> dict[str, Any]:
        """The browser's SAML session, once: consumed before anything is checked."""
        assert runtime.provider is not None
        token = request.cookies.get(COOKIE, "")
        not_found = Refusal(
            "application.saml.sp_initiated_saml_sso_session_not_found",
            "Service provider initiated SAML SSO session not found.",
        )
        if not token:
            raise Refusal(
                "application.saml.sp_initiated_saml_sso_session_not_found_in_cookies",
                "Service provider initiated SAML SSO session ID not found in cookies.",
            )
        artifacts = runtime.provider.artifacts
        stored = await artifacts.find(SESSION, digest(token))
        if stored is None or not await artifacts.consume(SESSION, digest(token)):
            raise not_found
        payload = stored.payload
        state = request.query_params.get("state", "")
        if payload.get("applicationId") != app_id:
            raise not_found
        if not hmac.compare_digest(state.encode(), str(payload["state"]).encode()):
            raise Refusal("application.saml.state_mismatch", "`state` mismatch.")
        return payload

    async def redeem(app: service.SamlApp, query: Any, verifier: str) -> tuple[dict[str, Any], int]:
        """The code redeemed as the token endpoint would (single use, redirect URI, PKCE),
        then the user's claims as userinfo gives them for the scopes granted, and when the
        user signed in (the ID token's ``auth_time``, minted here a moment ago)."""
        assert runtime.provider is not None
        code = query.get("code")
        if not code:
            message = query.get("error_description") or query.get("error") or "`code` is required."
            raise Refusal("oidc.access_denied" if query.get("error") else "guard.invalid_input",
                          str(message)[:300])  # fmt: skip
        provider = runtime.provider
        client = await provider.client(app.id)
        handler = grants.handler_for("authorization_code")
        if client is None or handler is None:
            raise Refusal("oidc.invalid_client", "The application is not available.")
        params = {"code": [code], "redirect_uri": [app.redirect_uri], "code_verifier": [verifier]}
        try:
            issued = await handler(provider, client, params)
            claims = await userinfo(provider, str(issued["access_token"]))
        except OAuthError as problem:
            raise Refusal(f"oidc.{problem.error}", problem.description) from None
        id_token = json.loads(jws.extract_compact(str(issued["id_token"]).encode()).payload)
        return claims, int(id_token["auth_time"])

    async def finish(response: Response) -> Response:
        response.delete_cookie(COOKIE, path="/")
        return response

    def require_sp(app: service.SamlApp) -> entity.ServiceProvider:
        try:
            return service.require_sp(app)
        except ServiceError as refused_:
            raise Refusal(refused_.code, refused_.message, refused_.status) from None

    return [
        Route("/api/saml-applications/{id}/metadata", metadata, methods=["GET"]),
        Route("/api/saml-applications/{id}/callback", callback, methods=["GET"]),
        Route("/api/saml/{id}/authn", authn_redirect, methods=["GET"]),
        Route("/api/saml/{id}/authn", authn_post, methods=["POST"]),
        Route("/api/saml/{id}/sign-in", idp_initiated, methods=["GET"]),
    ]


def check_relay_state(relay_state: str | None) -> None:
    if relay_state is not None and len(relay_state) > MAX_RELAY_STATE:
        raise Refusal("guard.invalid_input", f"`RelayState` is longer than {MAX_RELAY_STATE}.")


def check_request(parsed: entity.AuthnRequest, sp: entity.ServiceProvider) -> None:
    """The request is the configured SP's, and asks for the configured ACS URL (a request
    naming another would have the assertion go where the admin never agreed to)."""
    if parsed.issuer != sp.entity_id:
        raise Refusal(
            "application.saml.auth_request_issuer_not_match",
            "The issuer of the SAML authentication request mismatch with service provider"
            " entity ID.",
        )
    if parsed.acs_url is not None and parsed.acs_url != sp.acs_url:
        raise Refusal(
            "application.saml.acs_url_mismatch",
            "The Assertion Consumer Service URL of the request is not the configured one.",
        )


def post_form(acs_url: str, saml_response: str, relay_state: str | None) -> Response:
    """SAML Bindings §3.5.4: a form posting to the ACS URL; the page's script is a file of
    this origin (CSP ``script-src 'self'``), the form may go to the ACS URL's origin only."""
    target = urlsplit(acs_url)
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"form-action {target.scheme}://{target.netloc}; frame-ancestors 'none'; base-uri 'none'"
    )
    params = {"SAMLResponse": saml_response}
    if relay_state:
        params["RelayState"] = relay_state
    return page(
        "saml_post.html", headers={"Content-Security-Policy": csp}, action=acs_url, params=params
    )
