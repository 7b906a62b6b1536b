"""``refresh_token`` (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).

Rotation follows Logto: public clients rotate on every use (keeping the remaining lifetime),
confidential clients once 70 % of the lifetime has passed, nobody after 365.25 days of one
token family. A response that does not rotate echoes the same refresh token. Presenting a
rotated-out token revokes the whole grant.
"""

from __future__ import annotations

import time
from typing import Any

from portico.ids import digest
from portico.protocol import dpop, tokens
from portico.protocol.errors import invalid_grant, invalid_scope
from portico.protocol.grants import organization_tokens, register, user_tokens
from portico.protocol.params import Params, required, resources, scope_set, single
from portico.protocol.provider import Provider
from portico.services.applications import Client
from portico.storage.artifacts import Artifact

GRANT_TYPE = "refresh_token"
MAX_FAMILY_AGE_MS = int(365.25 * 86400 * 1000)
ROTATE_AFTER_FRACTION = 0.7


def should_rotate(client: Client, stored: Artifact, now_ms: int) -> bool:
    if not client.rotate_refresh_token:
        return False
    if now_ms - stored.payload["familyStart"] > MAX_FAMILY_AGE_MS:
        return False
    if client.is_public:
        return True
    issued = int(stored.payload["iat"])
    lifetime = stored.expires_at - issued
    return now_ms - issued >= ROTATE_AFTER_FRACTION * lifetime


@register(GRANT_TYPE)
async def handle(provider: Provider, client: Client, params: Params) -> dict[str, Any]:
    presented = required(params, "refresh_token")
    stored, account = await provider.artifacts.find_with_account(
        tokens.REFRESH_TOKEN, digest(presented)
    )
    if stored is None or stored.payload["clientId"] != client.id:
        raise invalid_grant("refresh token is invalid, expired or issued to another client")
    grant_id = stored.grant_id or ""
    if stored.consumed_at is not None:
        await provider.artifacts.revoke_grant(grant_id)
        raise invalid_grant("refresh token already used; its grant is revoked")
    dpop.check_key_bound(stored.payload.get("jkt"), "refresh token")  # RFC 9449 §5
    granted = stored.payload["scope"].split()
    requested = scope_set(single(params, "scope"))
    if not set(requested) <= set(granted):
        raise invalid_scope("requested scope exceeds the scope granted to the refresh token")
    user = user_tokens.account_of(stored.payload["accountId"], account)
    organization_id = single(params, "organization_id")
    if organization_id:
        await organization_tokens.check_access(provider, client, user, organization_id, granted)
    now_ms = int(time.time() * 1000)
    refresh_value = presented
    if should_rotate(client, stored, now_ms):
        if not await provider.artifacts.consume(tokens.REFRESH_TOKEN, stored.id):
            await provider.artifacts.revoke_grant(grant_id)
            raise invalid_grant("refresh token already used; its grant is revoked")
        ttl = int(stored.payload["ttl"])
        refresh_value = await tokens.refresh_token(
            provider,
            {**stored.payload, "iat": now_ms},
            grant_id,
            ttl,
            expires_at=(
                stored.expires_at
                if client.is_public
                else tokens.within_grant(now_ms + ttl * 1000, stored.payload)
            ),
        )
    if organization_id and not resources(params):
        response = await organization_tokens.issue(
            provider, client, user, organization_id, requested or granted
        )
    elif organization_id:
        response = await organization_tokens.issue_for_resource(
            provider,
            client,
            user,
            organization_id,
            resources(params),
            stored.payload["resources"],
            requested or granted,
        )
    else:
        response = await user_tokens.issue(
            provider,
            client,
            user,
            scopes=requested or granted,
            authorized_resources=stored.payload["resources"],
            requested_resources=resources(params),
            grant_id=grant_id,
            auth_time=stored.payload.get("authTime"),
            sid=stored.payload.get("sid"),
            nonce=None,  # OIDC Core §12.2: no nonce in ID tokens from a refresh
            amr=stored.payload.get("amr"),
            acr=stored.payload.get("acr"),
            gty=GRANT_TYPE,
        )
    response["refresh_token"] = refresh_value
    await user_tokens.unless_revoked_meanwhile(provider, grant_id)
    return response
