"""``client_credentials`` (RFC 6749 §4.4) for machine-to-machine apps, Logto-style: a
``resource`` is required, scopes = requested ∩ what the app's roles grant (all of those
when ``scope`` is omitted), and the response always carries ``scope``."""

from __future__ import annotations

from typing import Any

from portico.protocol import tokens
from portico.protocol.errors import invalid_target
from portico.protocol.grants import register
from portico.protocol.params import Params, resources, scope_set, single
from portico.protocol.provider import Provider
from portico.services.applications import Client

GRANT_TYPE = "client_credentials"
FALLBACK_TTL = 600


@register(GRANT_TYPE)
async def handle(provider: Provider, client: Client, params: Params) -> dict[str, Any]:
    indicators = resources(params)
    if not indicators:
        raise invalid_target("both resource and organization_id are not provided")
    if len(indicators) > 1:
        raise invalid_target("only a single resource indicator value is allowed")
    resource = await provider.resource(indicators[0])
    if resource is None:
        raise invalid_target("resource indicator is missing, or unknown")
    allowed = await provider.application_scopes(client.id, resource["id"])
    requested = scope_set(single(params, "scope"))
    scopes = [s for s in requested if s in allowed] if requested else sorted(allowed)
    token = await tokens.jwt_access_token(
        provider,
        subject=client.id,
        client_id=client.id,
        audience=resource["indicator"],
        scopes=scopes,
        ttl=int(resource["access_token_ttl"] or FALLBACK_TTL),
    )
    return {
        "access_token": token.value,
        "expires_in": token.expires_in,
        "token_type": "Bearer",
        "scope": token.scope,
    }
