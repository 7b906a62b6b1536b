"""``client_credentials`` (RFC 6749 §4.4) for machine-to-machine apps, Logto-style: a
``resource`` or an ``organization_id`` is required; scopes = requested ∩ what the app's roles
grant (all of those when ``scope`` is omitted), and the response always carries ``scope``.

With ``organization_id`` (Logto's RFC 0006) the application must be a member of the
organization (else 403 ``access_denied``), and its roles there decide: without ``resource``
an organization token (``aud = urn:logto:organization:<id>``, organization scopes), with one a
token for the API carrying the ``organization_id`` claim and only the API scopes its
organization roles grant (not its own machine-to-machine roles')."""

from __future__ import annotations

from typing import Any

from portico.protocol import tokens
from portico.protocol.custom_claims import TokenFacts
from portico.protocol.errors import OAuthError, invalid_target
from portico.protocol.grants import register
from portico.protocol.params import Params, resources, scope_set, single
from portico.protocol.provider import Provider
from portico.services import organizations as org_service
from portico.services.applications import Client
from portico.storage import organizations as org_repo

GRANT_TYPE = "client_credentials"
FALLBACK_TTL = 600
ORGANIZATION_TOKEN_TTL = 3600  # Logto's TTL for organization tokens


@register(GRANT_TYPE)
async def handle(provider: Provider, client: Client, params: Params) -> dict[str, Any]:
    indicators = resources(params)
    organization_id = single(params, "organization_id")
    if organization_id:
        async with provider.engine.connect() as conn:
            refusal = await org_service.app_token_refusal(
                conn, provider.tenant_id, organization_id, client.id
            )
        if refusal:
            raise OAuthError("access_denied", refusal, 403)
    if not indicators and not organization_id:
        raise invalid_target("both resource and organization_id are not provided")
    if len(indicators) > 1:
        raise invalid_target("only a single resource indicator value is allowed")
    requested = scope_set(single(params, "scope"))
    extra: dict[str, Any] | None = None
    if not indicators:
        assert organization_id
        async with provider.engine.connect() as conn:
            allowed = await org_repo.app_scope_names(conn, organization_id, client.id)
        audience = f"{org_service.TOKEN_AUDIENCE_PREFIX}{organization_id}"
        ttl = ORGANIZATION_TOKEN_TTL
    else:
        resource = await provider.resource(indicators[0])
        if resource is None:
            raise invalid_target("resource indicator is missing, or unknown")
        if organization_id:
            async with provider.engine.connect() as conn:
                allowed = await org_repo.app_resource_scope_names(
                    conn, organization_id, client.id, resource["id"]
                )
            extra = {"organization_id": organization_id}
        else:
            allowed = set(await provider.application_scopes(client.id, resource["id"]))
        audience = resource["indicator"]
        ttl = int(resource["access_token_ttl"] or FALLBACK_TTL)
    scopes = [s for s in requested if s in allowed] if requested else sorted(allowed)
    token = await tokens.jwt_access_token(
        provider,
        subject=client.id,
        client_id=client.id,
        audience=audience,
        scopes=scopes,
        ttl=ttl,
        extra=extra,
        facts=TokenFacts("ClientCredentials"),
    )
    return {
        "access_token": token.value,
        "expires_in": token.expires_in,
        "token_type": "Bearer",
        "scope": token.scope,
    }
