"""Routes under ``/oidc``: the OpenID provider's HTTP surface (paths as Logto's)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portico.protocol import (
    client_auth,
    device,
    discovery,
    dpop,
    end_session,
    introspection,
    logout_propagation,
    revocation,
)
from portico.protocol import sessions as sessions_mod
from portico.protocol.authorization import endpoint as authz
from portico.protocol.authorization import par
from portico.protocol.authorization.request import AuthorizationRequest, RedirectError, parse
from portico.protocol.errors import OAuthError, invalid_request
from portico.protocol.token_endpoint import token as token_grant
from portico.protocol.userinfo import Presented, bearer_token, dpop_token, userinfo
from portico.services import audit
from portico.services.applications import Client
from portico.web import cors
from portico.web.experience.sign_in import first_screen
from portico.web.http import (
    NO_STORE,
    authorization_response,
    body_params,
    client_address,
    error_page,
    form_target_csp,
    frontchannel_csp,
    oauth_error,
    page,
    query_params,
    redirect,
)
from portico.web.runtime import Runtime

Handler = Callable[[Request], Awaitable[Response]]

# Logto's ``ExchangeTokenBy.<type>`` audit keys, and the request members safe to log (never
# a code, verifier, token or secret).
_EXCHANGE_BY = {
    "authorization_code": "AuthorizationCode",
    "refresh_token": "RefreshToken",
    "client_credentials": "ClientCredentials",
    "urn:ietf:params:oauth:grant-type:token-exchange": "TokenExchange",
    "urn:ietf:params:oauth:grant-type:device_code": "DeviceCode",
}
_LOGGED_PARAMS = frozenset({"grant_type", "client_id", "scope", "resource", "redirect_uri"})
_TOKEN_TYPES = (
    ("access_token", "AccessToken"),
    ("refresh_token", "RefreshToken"),
    ("id_token", "IdToken"),
)


async def begin(
    runtime: Runtime, request: Request, client: Client, auth_request: AuthorizationRequest
) -> Response:
    """A checked authorization request: answered at once when the browser's session
    suffices, else a new interaction and the first page the user sees (sign-in or
    consent). The device page starts a device's sign-in here too."""
    provider = runtime.provider
    assert provider is not None
    session = await sessions_mod.find_session(provider, request.cookies.get(runtime.session_cookie))
    decision = await authz.decide(provider, client, auth_request, session, asker=asker(request))
    if isinstance(decision, authz.AuthorizationResponse):
        return authorization_response(decision)
    uid = await sessions_mod.start_interaction(
        provider,
        {"request": auth_request.to_payload(), "sidAtStart": session.sid if session else None},
    )
    response = redirect(
        first_screen(auth_request) if isinstance(decision, authz.NeedsLogin) else "/consent"
    )
    runtime.set_cookie(response, runtime.interaction_cookie, uid, sessions_mod.INTERACTION_TTL)
    return response


def asker(request: Request) -> authz.Asker:
    return authz.Asker(client_address(request), request.headers.get("user-agent"))


def routes(runtime: Runtime) -> list[Route]:
    def provider():  # type: ignore[no-untyped-def]
        assert runtime.provider is not None
        return runtime.provider

    def json_endpoint(handler: Handler) -> Handler:
        """OAuth errors as JSON, CORS for allowed origins."""

        async def wrapped(request: Request) -> Response:
            if request.method == "OPTIONS":
                return await cors.preflight(runtime, request)
            try:
                response = await handler(request)
            except OAuthError as error:
                response = oauth_error(error)
            response.headers.update(await cors.cors_headers(runtime, request))
            return response

        return wrapped

    # Discovery and JWKS change only with the key ring: their bodies are serialised once per
    # ring (the two most requested documents; an SDK fetches them on every start).
    rendered: dict[str, tuple[object, bytes]] = {}

    def render_once(ring: object, name: str, document: Callable[[], Any]) -> bytes:
        # The entry holds its ring, so an identity check cannot match a newer ring.
        entry = rendered.get(name)
        if entry is None or entry[0] is not ring:
            entry = rendered[name] = (ring, JSONResponse(document()).body)
        return entry[1]

    async def configuration(_: Request) -> Response:
        p = provider()
        ring = await p.current_keys()
        cimd = await p.metadata_documents_enabled()
        body = render_once(
            ring, f"discovery:{cimd}", lambda: discovery.document(p.issuer, ring.alg, cimd)
        )
        return Response(
            body, media_type="application/json", headers={"Cache-Control": "max-age=300"}
        )

    async def jwks(_: Request) -> Response:
        ring = await provider().current_keys()
        return Response(
            render_once(ring, "jwks", lambda: ring.jwks),
            media_type="application/jwk-set+json",
            headers={"Cache-Control": "max-age=300"},
        )

    async def token(request: Request) -> Response:
        """Every exchange, granted or refused, leaves an ``ExchangeTokenBy.*`` audit entry."""
        params = await body_params(request)
        with audit.collecting() as facts:
            try:
                proof = dpop.single_header(request.headers.getlist("dpop"))
                result = await token_grant(
                    provider(), request.headers.get("authorization"), params, proof
                )
            except OAuthError as error:
                _record_exchange(request, params, facts, error)
                raise
        _record_exchange(request, params, facts, None, result)
        headers = NO_STORE
        if proof is not None:  # RFC 9449 §8.2: a fresh nonce for the client's next proof
            headers = {**NO_STORE, "DPoP-Nonce": await dpop.nonce(provider())}
        return JSONResponse(result, headers=headers)

    def _record_exchange(
        request: Request,
        params: dict[str, list[str]],
        facts: dict[str, Any],
        error: OAuthError | None,
        result: dict[str, Any] | None = None,
    ) -> None:
        grant_type = (params.get("grant_type") or [""])[0]
        issued = [name for kind, name in _TOKEN_TYPES if result and kind in result]
        assert runtime.audit is not None
        runtime.audit.add(
            audit.entry(
                provider().tenant_id,
                f"ExchangeTokenBy.{_EXCHANGE_BY.get(grant_type, 'Unknown')}",
                result=audit.LogResult.ERROR if error else audit.LogResult.SUCCESS,
                ip=request.client.host if request.client else None,
                user_agent=request.headers.get("user-agent"),
                error={"code": f"oidc.{error.error}", "message": error.description}
                if error
                else None,
                params={k: v[0] for k, v in params.items() if k in _LOGGED_PARAMS and v},
                tokenTypes=issued or None,
                scope=result.get("scope") if result else None,
                **facts,
            )
        )

    async def me(request: Request) -> Response:
        authorization = request.headers.get("authorization")
        dpop_value = dpop_token(authorization)
        token_value = dpop_value or bearer_token(authorization)
        if token_value is None and request.method == "POST":
            token_value = (await body_params(request)).get("access_token", [None])[0]
        presented = Presented(
            token_value,
            dpop_proof=dpop.single_header(request.headers.getlist("dpop")),
            scheme_dpop=dpop_value is not None,
            method=request.method,
            url=f"{provider().issuer}/me",
        )
        return JSONResponse(await userinfo(provider(), presented), headers=NO_STORE)

    async def revoke(request: Request) -> Response:
        params = await body_params(request)
        client = await client_auth.authenticate(
            provider(), request.headers.get("authorization"), params,
            f"{provider().issuer}/token/revocation",
        )  # fmt: skip
        await revocation.revoke(provider(), client, params)
        return Response(status_code=200, headers=NO_STORE)

    async def introspect(request: Request) -> Response:
        params = await body_params(request)
        client = await client_auth.authenticate(
            provider(), request.headers.get("authorization"), params,
            f"{provider().issuer}/token/introspection",
        )  # fmt: skip
        return JSONResponse(
            await introspection.introspect(provider(), client, params), headers=NO_STORE
        )

    async def pushed_request(request: Request) -> Response:
        """RFC 9126: the client pushes its authorization request; 201 with a ``request_uri``."""
        params = await body_params(request)
        client = await client_auth.authenticate(
            provider(), request.headers.get("authorization"), params, f"{provider().issuer}/request"
        )
        proof = dpop.single_header(request.headers.getlist("dpop"))
        pushed = await par.push(provider(), client, params, proof)
        if proof is not None:  # RFC 9449 §8.2
            return JSONResponse(
                pushed,
                status_code=201,
                headers={**NO_STORE, "DPoP-Nonce": await dpop.nonce(provider())},
            )
        return JSONResponse(pushed, status_code=201, headers=NO_STORE)

    async def device_authorization(request: Request) -> Response:
        """RFC 8628 §3.1: a device asks for its codes (a public client: ``client_id`` only)."""
        params = await body_params(request)
        client = await client_auth.authenticate(
            provider(), request.headers.get("authorization"), params,
            f"{provider().issuer}/device/auth",
        )  # fmt: skip
        answer = await device.authorize(provider(), client, params, runtime.settings.endpoint)
        return JSONResponse(answer, headers=NO_STORE)

    async def authorize(request: Request) -> Response:
        """RFC 6749 §4.1.1; POST bodies are read as the query (OIDC Core §3.1.2.1); a
        ``request_uri`` from the PAR endpoint stands for the whole request (RFC 9126 §4)."""
        try:
            params = (
                await body_params(request) if request.method == "POST" else query_params(request)
            )
            if par.is_pushed(params):
                client, auth_request = await par.pull(provider(), params)
            else:
                client, auth_request = await parse(provider(), params)
        except RedirectError as exc:
            return authorization_response(authz.error_response(provider(), exc.request, exc.error))
        except OAuthError as error:
            return error_page(error, t=await runtime.translator(request))
        return await begin(runtime, request, client, auth_request)

    async def resume(request: Request) -> Response:
        """Back from the sign-in or consent page: finish the authorization request."""
        uid = request.path_params["uid"]
        cookie = request.cookies.get(runtime.interaction_cookie, "")
        interaction = await sessions_mod.find_interaction(provider(), uid)
        if interaction is None or not hmac.compare_digest(cookie.encode(), uid.encode()):
            return error_page(
                OAuthError(
                    "session_not_found",
                    "the sign-in session has expired or belongs to another browser",
                ),
                t=await runtime.translator(request),
            )
        auth_request = AuthorizationRequest.from_payload(interaction["request"])
        client = await provider().client(auth_request.client_id)
        if client is None:
            return error_page(OAuthError("invalid_client", "client is invalid: no such client"))
        session = await sessions_mod.find_session(
            provider(), request.cookies.get(runtime.session_cookie)
        )
        resumed = authz.Resumed(interaction.get("sidAtStart"), bool(interaction.get("consented")))
        decision = await authz.decide(
            provider(), client, auth_request, session, resumed, asker(request)
        )
        if isinstance(decision, authz.NeedsLogin):
            return redirect("/sign-in")
        if isinstance(decision, authz.NeedsConsent):
            return redirect("/consent")
        if not await sessions_mod.finish_interaction(provider(), uid):
            return error_page(
                OAuthError("session_not_found", "this sign-in was already completed"),
                t=await runtime.translator(request),
            )
        response = authorization_response(decision)
        response.delete_cookie(
            runtime.interaction_cookie, path="/", secure=runtime.settings.secure_cookies
        )
        return response

    async def logout(request: Request) -> Response:
        """RP-initiated logout: a valid hint for the current user logs out at once; otherwise
        the user confirms (protection against forced logout, ASVS 10.6.2)."""
        try:
            params = (
                await body_params(request) if request.method == "POST" else query_params(request)
            )
            logout_request = await end_session.parse(provider(), params)
        except OAuthError as error:
            return error_page(error, t=await runtime.translator(request))
        handle = request.cookies.get(runtime.session_cookie)
        session = await sessions_mod.find_session(provider(), handle)
        hint = logout_request.hint_claims
        if session is None or (hint is not None and hint.get("sub") == session.account_id):
            return await _finish_logout(request, handle, logout_request, ended=True)
        hidden = {
            k: v
            for k, v in {
                "client_id": logout_request.client.id if logout_request.client else None,
                "post_logout_redirect_uri": logout_request.post_logout_redirect_uri,
                "state": logout_request.state,
            }.items()
            if v
        }
        return page(
            "logout_confirm.html",
            t=await runtime.translator(request),
            headers=form_target_csp(logout_request.post_logout_redirect_uri),
            csrf_token=await runtime.mac("logout", handle or ""),
            params=hidden,
            client_name=logout_request.client.name if logout_request.client else None,
        )

    async def logout_confirm(request: Request) -> Response:
        try:
            params = await body_params(request)
            handle = request.cookies.get(runtime.session_cookie) or ""
            token_value = (params.get("csrf_token") or [""])[0]
            if not await runtime.mac_matches("logout", handle, token_value):
                raise invalid_request("the sign-out form has expired; please try again")
            logout_request = await end_session.parse(provider(), params)
        except OAuthError as error:
            return error_page(error, t=await runtime.translator(request))
        ended = params.get("logout") == ["yes"]
        return await _finish_logout(request, handle, logout_request, ended=ended)

    async def _finish_logout(
        request: Request,
        handle: str | None,
        logout_request: end_session.LogoutRequest,
        *,
        ended: bool,
    ) -> Response:
        """End the session; the applications it signed in to are told (back-channel after
        the answer, front-channel in iframes of a page that then goes on)."""
        location = logout_request.redirect_location() or "/oidc/session/end/success"
        notice = None
        if ended:
            session = await sessions_mod.find_session(provider(), handle)
            if session is not None:
                notice = await logout_propagation.take_notice(provider(), session)
            await sessions_mod.end_session(provider(), handle)
        if notice is not None and notice.backchannel:
            runtime.spawn(logout_propagation.deliver(provider(), notice, _logout_failed))
        urls = notice.frontchannel_urls(provider().issuer) if notice else []
        if urls:
            assert notice is not None
            frames = " ".join(notice.frontchannel_origins())
            response: Response = page(
                "logout_frontchannel.html",
                t=await runtime.translator(request),
                headers={"Content-Security-Policy": frontchannel_csp(frames)},
                frontchannel_urls=urls,
                next_url=location,
            )
        else:
            response = redirect(location)
        if ended:
            response.delete_cookie(
                runtime.session_cookie, path="/", secure=runtime.settings.secure_cookies
            )
        return response

    async def _logout_failed(client: Client, reason: str) -> None:
        if runtime.audit is not None:
            runtime.audit.add(
                audit.entry(
                    provider().tenant_id,
                    "BackchannelLogout",
                    result=audit.LogResult.ERROR,
                    application_id=client.id,
                    error={"code": "backchannel_logout_failed", "message": reason},
                )
            )

    async def logout_success(request: Request) -> Response:
        return page("logout_success.html", t=await runtime.translator(request))

    async def not_found(_: Request) -> Response:
        return oauth_error(
            OAuthError("invalid_request", "unrecognized route or not allowed method", 404)
        )

    json_methods = ["GET", "POST", "OPTIONS"]
    return [
        Route(
            "/oidc/.well-known/openid-configuration",
            json_endpoint(configuration),
            methods=["GET", "OPTIONS"],
        ),
        Route(
            "/oidc/.well-known/oauth-authorization-server",
            json_endpoint(configuration),
            methods=["GET", "OPTIONS"],
        ),
        Route(
            "/.well-known/oauth-authorization-server",
            json_endpoint(configuration),
            methods=["GET", "OPTIONS"],
        ),
        Route(
            "/.well-known/oauth-authorization-server/oidc",
            json_endpoint(configuration),
            methods=["GET", "OPTIONS"],
        ),
        Route("/oidc/jwks", json_endpoint(jwks), methods=["GET", "OPTIONS"]),
        Route("/oidc/token", json_endpoint(token), methods=["POST", "OPTIONS"]),
        Route("/oidc/me", json_endpoint(me), methods=json_methods),
        Route("/oidc/token/revocation", json_endpoint(revoke), methods=["POST", "OPTIONS"]),
        Route("/oidc/token/introspection", json_endpoint(introspect), methods=["POST", "OPTIONS"]),
        Route("/oidc/request", json_endpoint(pushed_request), methods=["POST", "OPTIONS"]),
        Route(
            "/oidc/device/auth", json_endpoint(device_authorization), methods=["POST", "OPTIONS"]
        ),
        Route("/oidc/auth", authorize, methods=["GET", "POST"]),
        Route("/oidc/auth/{uid}", resume, methods=["GET"]),
        Route("/oidc/session/end", logout, methods=["GET", "POST"]),
        Route("/oidc/session/end/confirm", logout_confirm, methods=["POST"]),
        Route("/oidc/session/end/success", logout_success, methods=["GET"]),
        Route(
            "/oidc/{rest:path}",
            not_found,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        ),
    ]
