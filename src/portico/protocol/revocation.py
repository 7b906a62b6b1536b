"""Token revocation (RFC 7009). Revoking a refresh token revokes its whole grant (§2.1)."""

from __future__ import annotations

from portico.ids import digest
from portico.protocol import tokens
from portico.protocol.errors import OAuthError
from portico.protocol.params import Params, required, single
from portico.protocol.provider import Provider
from portico.services.applications import Client


def lookup_order(hint: str | None) -> tuple[str, str]:
    if hint == "access_token":
        return (tokens.ACCESS_TOKEN, tokens.REFRESH_TOKEN)
    return (tokens.REFRESH_TOKEN, tokens.ACCESS_TOKEN)


async def revoke(provider: Provider, client: Client, params: Params) -> None:
    token = required(params, "token")
    order = lookup_order(single(params, "token_type_hint"))
    for kind, stored in await provider.artifacts.find_kinds(order, digest(token)):
        if stored.payload["clientId"] != client.id:
            raise OAuthError(
                "invalid_request", "client is not authorized to revoke the presented token"
            )
        if kind == tokens.REFRESH_TOKEN and stored.grant_id:
            await provider.artifacts.revoke_grant(stored.grant_id)
        else:
            await provider.artifacts.destroy(kind, stored.id)
        return
    # Unknown, expired and self-contained (JWT) tokens: RFC 7009 §2.2 answers 200 all the same.
