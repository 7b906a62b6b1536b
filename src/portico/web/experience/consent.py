"""Consent for third-party applications: who asks, for what (scopes in words, resources, and
which of the user's organizations), allow or deny. What is allowed is remembered
(``services.consents``), so the page returns only for more, or with ``prompt=consent``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.experience import consent
from portico.protocol import sessions as sessions_mod
from portico.protocol.authorization import endpoint as authz
from portico.protocol.authorization.request import AuthorizationRequest
from portico.protocol.errors import OAuthError
from portico.services import consents
from portico.services.errors import ServiceError
from portico.services.organizations import SCOPE_ORGANIZATIONS
from portico.web.experience.context import Ctx, form_view, view
from portico.web.http import authorization_response
from portico.web.runtime import Runtime

KNOWN_SCOPES = {
    "openid", "profile", "email", "phone", "address", "offline_access", "roles",
    "custom_data", "identities", "urn:logto:scope:organizations",
    "urn:logto:scope:organization_roles",
}  # fmt: skip


def routes(runtime: Runtime) -> list[Route]:
    async def account_id(ctx: Ctx) -> str | None:
        return await consent.signed_in_user(
            ctx.turn, ctx.request.cookies.get(runtime.session_cookie)
        )

    async def organizations(ctx: Ctx, user_id: str | None) -> list[dict[str, Any]] | None:
        """The user's organizations when the organizations scope is asked for, else None;
        those granted to this application before come checked."""
        if user_id is None or SCOPE_ORGANIZATIONS not in ctx.interaction["request"]["scopes"]:
            return None
        assert runtime.engine is not None and ctx.client is not None
        return await consents.organization_choices(runtime.engine, ctx.client.id, user_id)

    async def render(ctx: Ctx, error: str | None = None) -> Response:
        scopes = [
            (scope, ctx.t(f"scope.{scope}") if scope in KNOWN_SCOPES else scope)
            for scope in ctx.interaction["request"]["scopes"]
            if scope != "openid"
        ]
        values = {
            "scopes": scopes,
            "resources": ctx.interaction["request"]["resources"],
            "organizations": await organizations(ctx, await account_id(ctx)),
            "logo_uri": ctx.client.logo_uri if ctx.client else None,
        }
        if error:
            return ctx.error("consent.html", error, **values)
        return ctx.render("consent.html", **values)

    async def page(ctx: Ctx) -> Response:
        return await render(ctx)

    async def submit(ctx: Ctx) -> Response:
        auth_request = AuthorizationRequest.from_payload(ctx.interaction["request"])
        if ctx.field("decision") != "allow":
            await sessions_mod.finish_interaction(ctx.provider, ctx.uid)
            denied = OAuthError("access_denied", "the end-user denied the authorization request")
            return authorization_response(authz.error_response(ctx.provider, auth_request, denied))
        user_id = await account_id(ctx)
        if user_id is None or ctx.client is None:
            return ctx.go(f"/oidc/auth/{ctx.uid}")  # signed out meanwhile: sign in again
        try:
            await consent.grant(ctx.turn, ctx.client, user_id, ctx.fields.get("organization_id"))
        except ServiceError:
            return await render(ctx, "error.consent_organization")
        return ctx.go(f"/oidc/auth/{ctx.uid}")

    return [
        Route("/consent", view(runtime, page), methods=["GET"]),
        Route("/consent", form_view(runtime, submit), methods=["POST"]),
    ]
