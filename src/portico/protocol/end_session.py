"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2-§3).

A ``post_logout_redirect_uri`` must be registered for the client; an ``id_token_hint`` that
does not verify is an error, never a redirect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.errors import JoseError

from portico.protocol.errors import OAuthError, invalid_request
from portico.protocol.params import Params, single
from portico.protocol.provider import Provider
from portico.services.applications import Client


@dataclass(frozen=True)
class LogoutRequest:
    client: Client | None
    post_logout_redirect_uri: str | None
    state: str | None
    hint_claims: dict[str, Any] | None

    def redirect_location(self) -> str | None:
        if not self.post_logout_redirect_uri:
            return None
        if not self.state:
            return self.post_logout_redirect_uri
        parts = urlsplit(self.post_logout_redirect_uri)
        extra = urlencode({"state": self.state})
        query = f"{parts.query}&{extra}" if parts.query else extra
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


async def _verify_hint(provider: Provider, hint: str) -> dict[str, Any]:
    """Signature and issuer; an expired hint is still a valid hint (§2)."""
    ring = await provider.current_keys()
    try:
        claims = jwt.decode(hint, ring.verification_keys, algorithms=list(ring.algorithms)).claims
    except (JoseError, ValueError):
        raise invalid_request("could not validate id_token_hint") from None
    if claims.get("iss") != provider.issuer or not isinstance(claims.get("aud"), str):
        raise invalid_request("could not validate id_token_hint")
    return claims


async def parse(provider: Provider, params: Params) -> LogoutRequest:
    hint = single(params, "id_token_hint")
    client_id = single(params, "client_id")
    uri = single(params, "post_logout_redirect_uri")
    claims = await _verify_hint(provider, hint) if hint else None
    if claims is not None:
        if client_id and client_id != claims["aud"]:
            raise invalid_request("client_id does not match the id_token_hint audience")
        client_id = claims["aud"]
    client = await provider.client(client_id) if client_id else None
    if client_id and client is None:
        raise OAuthError("invalid_client", "client is invalid: no such client")
    if uri:
        if client is None:
            raise invalid_request(
                "post_logout_redirect_uri can only be used in combination with "
                "id_token_hint or client_id"
            )
        if uri not in client.post_logout_redirect_uris:
            raise invalid_request("post_logout_redirect_uri not registered")
    return LogoutRequest(client, uri, single(params, "state"), claims)
