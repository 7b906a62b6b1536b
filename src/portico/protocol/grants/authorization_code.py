"""``authorization_code`` (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6).

Codes are single use: a second redemption fails and revokes everything the first issued
(RFC 6749 §4.1.2, RFC 9700 §4.2.4), also when it races with the first: see
``user_tokens.unless_revoked_meanwhile``.
"""

from __future__ import annotations

import time
from typing import Any

from portico.ids import digest
from portico.protocol import dpop, pkce, tokens
from portico.protocol.errors import invalid_grant
from portico.protocol.grants import register, user_tokens
from portico.protocol.params import Params, required, resources, single
from portico.protocol.provider import Provider
from portico.services.applications import Client

GRANT_TYPE = "authorization_code"


@register(GRANT_TYPE)
async def handle(provider: Provider, client: Client, params: Params) -> dict[str, Any]:
    code = required(params, "code")
    redirect_uri = single(params, "redirect_uri")
    verifier = single(params, "code_verifier")
    stored, account = await provider.artifacts.find_with_account(
        tokens.AUTHORIZATION_CODE, digest(code)
    )
    if stored is None or stored.payload["clientId"] != client.id:
        raise invalid_grant("authorization code is invalid, expired or issued to another client")
    grant_id = stored.grant_id or ""
    if stored.consumed_at is not None:
        await provider.artifacts.revoke_grant(grant_id)
        raise invalid_grant("authorization code already used; tokens issued with it are revoked")
    payload = stored.payload
    if redirect_uri != payload["redirectUri"]:
        raise invalid_grant("redirect_uri does not match the one of the authorization request")
    pkce.verify(payload.get("codeChallenge"), verifier)
    dpop.check_key_bound(payload.get("dpopJkt"), "authorization code")  # RFC 9449 §10
    if not await provider.artifacts.consume(tokens.AUTHORIZATION_CODE, stored.id):
        await provider.artifacts.revoke_grant(grant_id)
        raise invalid_grant("authorization code already used; tokens issued with it are revoked")
    user = user_tokens.account_of(payload["accountId"], account)
    scopes: list[str] = payload["scope"].split()
    response = await user_tokens.issue(
        provider,
        client,
        user,
        scopes=scopes,
        authorized_resources=payload["resources"],
        requested_resources=resources(params),
        grant_id=grant_id,
        auth_time=payload.get("authTime"),
        sid=payload.get("sid"),
        nonce=payload.get("nonce"),
        amr=payload.get("amr"),
        acr=payload.get("acr"),
        gty=GRANT_TYPE,
    )
    if "offline_access" in scopes or client.always_issue_refresh_token:
        now_ms = int(time.time() * 1000)
        response["refresh_token"] = await tokens.refresh_token(
            provider,
            {
                "accountId": user["id"],
                "clientId": client.id,
                "scope": payload["scope"],
                "resources": payload["resources"],
                "authTime": payload.get("authTime"),
                "sid": payload.get("sid"),
                "amr": payload.get("amr"),
                "acr": payload.get("acr"),
                "iat": now_ms,
                "familyStart": now_ms,
                "ttl": client.refresh_token_ttl,
                "grantExp": payload.get("grantExp"),
            },
            grant_id,
            client.refresh_token_ttl,
            expires_at=tokens.within_grant(now_ms + client.refresh_token_ttl * 1000, payload),
        )
    await user_tokens.unless_revoked_meanwhile(provider, grant_id)
    return response
