"""The token endpoint (RFC 6749 §3.2): authenticate the client, dispatch on ``grant_type``."""

from __future__ import annotations

from typing import Any

from portico.protocol import client_auth, dpop, grants
from portico.protocol.errors import OAuthError
from portico.protocol.params import Params, required
from portico.protocol.provider import Provider


async def token(
    provider: Provider,
    authorization: str | None,
    params: Params,
    dpop_proof: str | None = None,
) -> dict[str, Any]:
    """``dpop_proof``: the request's ``DPoP`` header (RFC 9449 §5): checked after the client
    authenticated, and the tokens issued are bound to its key (``token_type: DPoP``)."""
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
    proof = None
    if dpop_proof is not None:
        proof = await dpop.check(
            provider, dpop_proof, method="POST", url=f"{provider.issuer}/token", require_nonce=True
        )
    elif client.dpop_bound_access_tokens:  # RFC 9449 §5.2
        raise dpop.invalid_proof("this client must send a DPoP proof")
    with dpop.binding(proof.jkt if proof else None, bind_refresh=client.is_public):
        response = await handler(provider, client, params)
    if proof is not None:
        response["token_type"] = "DPoP"
    return response
