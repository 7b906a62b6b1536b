"""Consent for third-party applications: who asks, for what, allow or deny."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from portico.protocol import sessions as sessions_mod
from portico.protocol.authorization import endpoint as authz
from portico.protocol.authorization.request import AuthorizationRequest
from portico.protocol.errors import OAuthError
from portico.web.experience.context import Ctx, form_view, view
from portico.web.http import authorization_response
from portico.web.runtime import Runtime

KNOWN_SCOPES = {
    "openid", "profile", "email", "phone", "address", "offline_access", "roles",
    "custom_data", "identities", "urn:logto:scope:organizations",
    "urn:logto:scope:organization_roles",
}  # fmt: skip


def routes(runtime: Runtime) -> list[Route]:
    async def page(ctx: Ctx) -> Response:
        scopes = [
            (scope, ctx.t(f"scope.{scope}") if scope in KNOWN_SCOPES else scope)
            for scope in ctx.interaction["request"]["scopes"]
            if scope != "openid"
        ]
        return ctx.render(
            "consent.html", scopes=scopes, resources=ctx.interaction["request"]["resources"]
        )

    async def submit(ctx: Ctx) -> Response:
        if ctx.field("decision") != "allow":
            await sessions_mod.finish_interaction(ctx.provider, ctx.uid)
            auth_request = AuthorizationRequest.from_payload(ctx.interaction["request"])
            denied = OAuthError("access_denied", "the end-user denied the authorization request")
            return authorization_response(authz.error_response(ctx.provider, auth_request, denied))
        ctx.interaction["consented"] = True
        await ctx.save()
        return ctx.go(f"/oidc/auth/{ctx.uid}")

    return [
        Route("/consent", view(runtime, page), methods=["GET"]),
        Route("/consent", form_view(runtime, submit), methods=["POST"]),
    ]
