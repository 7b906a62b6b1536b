"""Organization tokens (Logto's RFC 0001 §6): a refresh token exchanged with
``organization_id`` and no ``resource`` gives a JWT access token for the organization itself,
``aud = urn:logto:organization:<id>``, carrying the requested organization scopes that the
user's roles in that organization grant.

With both ``organization_id`` and ``resource`` it gives a token for the API with an
``organization_id`` claim, whose scopes are only those the user's roles in that organization
grant for the API (``storage/rbac.user_scope_names``), within what the refresh token was
granted: never the user's own roles' scopes, which are not the organization's (Logto's code
adds them; see README's differences).
"""

from __future__ import annotations

from typing import Any

from portico.protocol import tokens
from portico.protocol.custom_claims import TokenFacts
from portico.protocol.errors import OAuthError, invalid_target
from portico.protocol.provider import Provider
from portico.services import organizations as org_service
from portico.services.applications import Client
from portico.storage import rbac as rbac_repo

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


def _facts(user: dict[str, Any], organization_id: str) -> TokenFacts:
    """Organization tokens come from a refresh token (Logto's RFC 0001)."""
    return TokenFacts(
        "AccessToken", account_id=user["id"], gty="refresh_token", organization_id=organization_id
    )


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
        facts=_facts(user, organization_id),
    )
    return {
        "access_token": access.value,
        "expires_in": access.expires_in,
        "token_type": "Bearer",
        "scope": access.scope,
    }


async def issue_for_resource(
    provider: Provider,
    client: Client,
    user: dict[str, Any],
    organization_id: str,
    requested_resources: list[str],
    authorized_resources: list[str],
    scopes: list[str],
) -> dict[str, Any]:
    if len(requested_resources) > 1:
        raise invalid_target("only a single resource indicator value is allowed here")
    indicator = requested_resources[0]
    resource = await provider.resource(indicator) if indicator in authorized_resources else None
    if resource is None:
        raise invalid_target("resource indicator was not authorized for this grant")
    async with provider.engine.connect() as conn:
        allowed = await rbac_repo.user_scope_names(
            conn, user["id"], resource["id"], organization_id
        )
    access = await tokens.jwt_access_token(
        provider,
        subject=user["id"],
        client_id=client.id,
        audience=indicator,
        scopes=[s for s in scopes if s in allowed],
        ttl=int(resource["access_token_ttl"] or tokens.DEFAULT_ACCESS_TOKEN_TTL),
        extra={"organization_id": organization_id},
        facts=_facts(user, organization_id),
    )
    return {
        "access_token": access.value,
        "expires_in": access.expires_in,
        "token_type": "Bearer",
        "scope": access.scope,
    }
