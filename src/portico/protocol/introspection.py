"""Token introspection (RFC 7662): opaque access tokens, refresh tokens and JWT access tokens.

Public clients may only introspect their own tokens; confidential clients (resource servers)
any token of this issuer.
"""

from __future__ import annotations

import time
from typing import Any

from portico.ids import digest
from portico.protocol import tokens
from portico.protocol.params import Params, required, single
from portico.protocol.provider import Provider
from portico.protocol.revocation import lookup_order
from portico.services.applications import Client

INACTIVE: dict[str, Any] = {"active": False}


async def introspect(provider: Provider, client: Client, params: Params) -> dict[str, Any]:
    token = required(params, "token")
    if token.count(".") == 2:
        return await _introspect_jwt(provider, client, token)
    order = lookup_order(single(params, "token_type_hint"))
    for kind, stored in await provider.artifacts.find_kinds(order, digest(token)):
        if stored.consumed_at is not None:
            continue
        payload = stored.payload
        if client.is_public and payload["clientId"] != client.id:
            return INACTIVE
        extra = payload.get("extra") or {}
        token_type = "DPoP" if "cnf" in extra else "Bearer"
        if kind == tokens.REFRESH_TOKEN:
            token_type = "refresh_token"
            if payload.get("jkt"):  # RFC 9449 §6.2: the key a public client's token is bound to
                extra = {**extra, "cnf": {"jkt": payload["jkt"]}}
        return {
            "active": True,
            "client_id": payload["clientId"],
            "sub": payload["accountId"],
            "scope": payload["scope"],
            "iat": int(payload["iat"]) // (1000 if kind == tokens.REFRESH_TOKEN else 1),
            "exp": stored.expires_at // 1000,
            "iss": provider.issuer,
            "token_type": token_type,
            # ``act`` of an exchanged token (RFC 8693 §4.1), ``cnf`` of a DPoP-bound one
            **extra,
        }
    return INACTIVE


async def _introspect_jwt(provider: Provider, client: Client, token: str) -> dict[str, Any]:
    claims = await tokens.verify_jwt_access_token(provider, token)
    if (
        claims is None
        or claims["exp"] <= time.time()  # the shared check allows clock skew; active is now
        or (client.is_public and claims.get("client_id") != client.id)
    ):
        return INACTIVE
    token_type = "DPoP" if "cnf" in claims else "Bearer"  # RFC 9449 §6.2
    return {"active": True, **claims, "token_type": token_type}
