"""The token endpoint (RFC 6749 §3.2): authenticate the client, dispatch on ``grant_type``."""

from __future__ import annotations

from typing import Any

from portico.protocol import client_auth, grants
from portico.protocol.errors import OAuthError
from portico.protocol.params import Params, required
from portico.protocol.provider import Provider


async def token(provider: Provider, authorization: str | None, params: Params) -> dict[str, Any]:
    grant_type = required(params, "grant_type")
    handler = grants.handler_for(grant_type)
    if handler is None:
        raise OAuthError(
            "unsupported_grant_type", f"unsupported grant_type requested ({grant_type})"
        )
    client = await client_auth.authenticate(provider, authorization, params)
    if grant_type not in client.grant_types:
        raise OAuthError(
            "unauthorized_client", "requested grant type is not allowed for this client"
        )
    return await handler(provider, client, params)
