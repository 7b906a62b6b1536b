"""The hosted pages of this milestone: a plain username/password sign-in and a consent page
for third-party apps. Both are bound to the interaction cookie and carry a CSRF token."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.protocol import sessions as sessions_mod
from portico.protocol.authorization import endpoint as authz
from portico.protocol.authorization.request import AuthorizationRequest
from portico.protocol.errors import OAuthError
from portico.services.users import authenticate
from portico.storage import users as users_repo
from portico.storage.database import now_ms
from portico.web.http import (
    authorization_response,
    body_params,
    error_page,
    form_target_csp,
    page,
    redirect,
)
from portico.web.runtime import Runtime

SIGN_IN_FAILED = "The account or password is incorrect."
EXPIRED = OAuthError(
    "session_not_found",
    "the sign-in session has expired; go back to the application and sign in again",
)


def routes(runtime: Runtime) -> list[Route]:
    def provider():  # type: ignore[no-untyped-def]
        assert runtime.provider is not None
        return runtime.provider

    async def current(request: Request) -> tuple[str, dict[str, Any]] | None:
        uid = request.cookies.get(runtime.interaction_cookie)
        interaction = await sessions_mod.find_interaction(provider(), uid)
        return (uid, interaction) if uid and interaction else None

    async def form(request: Request) -> tuple[str, dict[str, Any], dict[str, list[str]]] | Response:
        """The interaction and posted fields, or the error page (expired, forged)."""
        found = await current(request)
        if found is None:
            return error_page(EXPIRED)
        fields = await body_params(request)
        posted = (fields.get("csrf_token") or [""])[0]
        if not hmac.compare_digest(posted.encode(), found[1]["csrf"].encode()):
            return error_page(
                OAuthError("invalid_request", "the form has expired; please try again"), 403
            )
        return found[0], found[1], fields

    async def client_name(interaction: dict[str, Any]) -> str:
        client = await provider().client(interaction["request"]["client_id"])
        return client.name if client else "the application"

    async def sign_in_page(request: Request) -> Response:
        found = await current(request)
        if found is None:
            return error_page(EXPIRED)
        _, interaction = found
        return page(
            "sign_in.html",
            headers=form_target_csp(interaction["request"]["redirect_uri"]),
            client_name=await client_name(interaction),
            csrf_token=interaction["csrf"],
            identifier=interaction["request"].get("login_hint") or "",
            error=None,
        )

    async def sign_in(request: Request) -> Response:
        try:
            result = await form(request)
        except OAuthError as error:
            return error_page(error)
        if isinstance(result, Response):
            return result
        uid, interaction, fields = result
        identifier = (fields.get("identifier") or [""])[0][:256]
        password = (fields.get("password") or [""])[0]
        assert runtime.engine is not None
        async with runtime.engine.connect() as conn:
            user = await authenticate(conn, provider().tenant_id, identifier, password)
        if user is None:
            return page(
                "sign_in.html",
                status=400,
                headers=form_target_csp(interaction["request"]["redirect_uri"]),
                client_name=await client_name(interaction),
                csrf_token=interaction["csrf"],
                identifier=identifier,
                error=SIGN_IN_FAILED,
            )
        # A new session id at every sign-in (session fixation, ASVS 7.2.4).
        await sessions_mod.end_session(provider(), request.cookies.get(runtime.session_cookie))
        handle, _ = await sessions_mod.start_session(provider(), user["id"])
        async with runtime.engine.begin() as conn:
            await users_repo.touch_sign_in(conn, user["id"], now_ms())
        response = redirect(f"/oidc/auth/{uid}")
        runtime.set_cookie(response, runtime.session_cookie, handle, sessions_mod.SESSION_TTL)
        return response

    async def consent_page(request: Request) -> Response:
        found = await current(request)
        if found is None:
            return error_page(EXPIRED)
        _, interaction = found
        return page(
            "consent.html",
            headers=form_target_csp(interaction["request"]["redirect_uri"]),
            client_name=await client_name(interaction),
            scopes=interaction["request"]["scopes"],
            csrf_token=interaction["csrf"],
        )

    async def consent(request: Request) -> Response:
        try:
            result = await form(request)
        except OAuthError as error:
            return error_page(error)
        if isinstance(result, Response):
            return result
        uid, interaction, fields = result
        if fields.get("decision") != ["allow"]:
            await sessions_mod.finish_interaction(provider(), uid)
            auth_request = AuthorizationRequest.from_payload(interaction["request"])
            denied = OAuthError("access_denied", "the end-user denied the authorization request")
            return authorization_response(authz.error_response(provider(), auth_request, denied))
        await sessions_mod.update_interaction(provider(), uid, {**interaction, "consented": True})
        return redirect(f"/oidc/auth/{uid}")

    return [
        Route("/sign-in", sign_in_page, methods=["GET"]),
        Route("/sign-in", sign_in, methods=["POST"]),
        Route("/consent", consent_page, methods=["GET"]),
        Route("/consent", consent, methods=["POST"]),
    ]
