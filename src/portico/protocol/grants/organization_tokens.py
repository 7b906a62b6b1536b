"""Organization tokens (Logto's RFC 0001 §6): a refresh token exchanged with
``organization_id`` and no ``resource`` gives a JWT access token for the organization itself,
``aud = urn:logto:organization:<id>``, carrying the requested organization scopes that the
user's roles in that organization grant.

With both ``organization_id`` and ``resource`` Logto issues a resource token restricted to the
organization's role scopes for that API; Portico has no organization-role API scopes yet, so
that combination goes on as an ordinary resource token after the same access checks.
"""

from __future__ import annotations

from typing import Any

from portico.protocol import tokens
from portico.protocol.errors import OAuthError
from portico.protocol.provider import Provider
from portico.services import organizations as org_service
from portico.services.applications import Client

ORGANIZATION_TOKEN_TTL = 3600  # Logto's TTL for reserved and organization resources


async def check_access(
    provider: Provider,
    client: Client,
    user: dict[str, Any],
    organization_id: str,
    granted_scopes: list[str],
) -> None:
    """The refresh token must carry ``urn:logto:scope:organizations`` (else
    ``insufficient_scope``); then the user must be a member, the organization granted to a
    third-party application, and its MFA requirement met (else 403 ``access_denied``)."""
    if org_service.SCOPE_ORGANIZATIONS not in granted_scopes:
        raise OAuthError(
            "insufficient_scope",
            f"refresh token missing required scope {org_service.SCOPE_ORGANIZATIONS}",
            403,
        )
    async with provider.engine.connect() as conn:
        refusal = await org_service.token_refusal(
            conn,
            provider.tenant_id,
            organization_id,
            user["id"],
            app_id=client.id,
            is_third_party=client.is_third_party,
        )
    if refusal:
        raise OAuthError("access_denied", refusal, 403)


async def issue(
    provider: Provider,
    client: Client,
    user: dict[str, Any],
    organization_id: str,
    scopes: list[str],
) -> dict[str, Any]:
    async with provider.engine.connect() as conn:
        allowed = await org_service.token_scopes(conn, organization_id, user["id"])
    access = await tokens.jwt_access_token(
        provider,
        subject=user["id"],
        client_id=client.id,
        audience=f"{org_service.TOKEN_AUDIENCE_PREFIX}{organization_id}",
        scopes=[s for s in scopes if s in allowed],
        ttl=ORGANIZATION_TOKEN_TTL,
    )
    return {
        "access_token": access.value,
        "expires_in": access.expires_in,
        "token_type": "Bearer",
        "scope": access.scope,
    }
