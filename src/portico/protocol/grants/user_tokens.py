"""What the authorization-code and refresh-token grants both issue for a signed-in user:
an access token (JWT for an API resource, else opaque) and an ID token when ``openid``."""

from __future__ import annotations

from typing import Any

from portico.protocol import tokens
from portico.protocol.claims import (
    OIDC_SCOPES,
    organization_claims,
    user_claims,
    wants_account_claims,
)
from portico.protocol.custom_claims import TokenFacts
from portico.protocol.errors import invalid_grant, invalid_target
from portico.protocol.provider import Provider
from portico.services import audit
from portico.services.applications import Client
from portico.storage import rbac as rbac_repo


def account_of(account_id: str, user: dict[str, Any] | None) -> dict[str, Any]:
    """The user a grant was issued to (read with its code or token, see
    ``ArtifactStore.find_with_account``), unless gone or suspended."""
    audit.note(user_id=account_id)
    if user is None or user["is_suspended"]:
        raise invalid_grant("the user of this grant no longer exists or is suspended")
    return user


async def unless_revoked_meanwhile(provider: Provider, grant_id: str) -> None:
    """Called after a grant handler stored its tokens: if a replay of the same code or
    refresh token revoked the grant while they were issued, revoke again so that none of
    them outlives it. The response still goes out (as it would have, a moment before the
    replay); what it carries is already revoked, exactly as after a later replay."""
    if grant_id and await provider.artifacts.grant_revoked(grant_id):
        await provider.artifacts.revoke_grant(grant_id)


async def issue(
    provider: Provider,
    client: Client,
    user: dict[str, Any],
    *,
    scopes: list[str],
    authorized_resources: list[str],
    requested_resources: list[str],
    grant_id: str,
    auth_time: int | None,
    sid: str | None,
    nonce: str | None,
    amr: list[str] | None = None,
    acr: str | None = None,
    gty: str | None = None,
) -> dict[str, Any]:
    """Token response members except ``refresh_token`` (each grant decides on that);
    ``gty``: the grant type a JWT customizer script is told."""
    facts = TokenFacts("AccessToken", account_id=user["id"], grant_id=grant_id, gty=gty, sid=sid)
    access = await _access_token(
        provider, client, user, scopes, authorized_resources, requested_resources, facts
    )
    response: dict[str, Any] = {
        "access_token": access.value,
        "expires_in": access.expires_in,
        "token_type": "Bearer",
        "scope": access.scope,
    }
    if "openid" in scopes:
        roles: list[str] = []
        organizations = None
        if wants_account_claims(scopes):
            async with provider.engine.connect() as conn:
                if "roles" in scopes:  # the only claim that needs them
                    roles = await rbac_repo.user_role_names(conn, user["id"])
                organizations = await organization_claims(
                    provider, conn, user["id"], client.id, scopes
                )
        response["id_token"] = await tokens.id_token(
            provider,
            client_id=client.id,
            claims=user_claims(user, scopes, roles, for_id_token=True, organizations=organizations),
            ttl=client.id_token_ttl,
            auth_time=auth_time,
            sid=sid,
            nonce=nonce,
            access_token=access.value,
            amr=amr,
            acr=acr,
            alg=client.id_token_signed_response_alg,
        )
    return response


async def _access_token(
    provider: Provider,
    client: Client,
    user: dict[str, Any],
    scopes: list[str],
    authorized_resources: list[str],
    requested_resources: list[str],
    facts: TokenFacts,
) -> tokens.IssuedToken:
    if len(requested_resources) > 1:
        raise invalid_target("only a single resource indicator value is allowed here")
    resource = None
    if requested_resources:
        indicator = requested_resources[0]
        if indicator not in authorized_resources:
            raise invalid_target("resource indicator was not authorized for this grant")
        resource = await provider.resource(indicator)
        if resource is None:
            raise invalid_target("resource indicator is missing, or unknown")
    else:
        resource = await provider.default_resource()
    if resource is None:
        return await tokens.opaque_access_token(
            provider,
            account_id=user["id"],
            client_id=client.id,
            scopes=[s for s in scopes if s in OIDC_SCOPES],
            grant_id=facts.grant_id,
        )
    through_organizations = await provider.organization_roles_grant_api_scopes()
    async with provider.engine.connect() as conn:
        allowed = await rbac_repo.user_scope_names(
            conn, user["id"], resource["id"], through_organizations=through_organizations
        )
    return await tokens.jwt_access_token(
        provider,
        subject=user["id"],
        client_id=client.id,
        audience=resource["indicator"],
        scopes=[s for s in scopes if s in allowed],
        ttl=int(resource["access_token_ttl"] or tokens.DEFAULT_ACCESS_TOKEN_TTL),
        facts=facts,
    )
