"""Client authentication at the token, revocation, introspection and PAR endpoints
(RFC 6749 §2.3; RFC 7523 for signed assertions).

``client_secret_basic`` and ``client_secret_post`` are interchangeable, as in Logto; Basic
plus a matching ``client_id`` in the body is accepted (the Go SDK sends both).
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from portico.protocol import client_assertion
from portico.protocol.errors import OAuthError, invalid_client, invalid_request
from portico.protocol.params import Params, single
from portico.protocol.provider import Provider
from portico.services import audit
from portico.services.applications import Client
from portico.storage.database import now_ms


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before base64."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise invalid_request("invalid authorization header value format") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise invalid_request("invalid authorization header value format")
    return unquote_plus(client_id), unquote_plus(secret)


async def authenticate(
    provider: Provider, authorization: str | None, params: Params, endpoint: str | None = None
) -> Client:
    """The client of a request to ``endpoint`` (its URL; the token endpoint by default): by
    a signed assertion (``private_key_jwt``, ``protocol/client_assertion.py``), a secret
    (Basic or in the body) or, for a public client, its id alone."""
    if client_assertion.presented(params):
        if authorization and parse_basic(authorization):
            raise invalid_request("client authentication must only be provided using one mechanism")
        return await client_assertion.authenticate(
            provider, params, endpoint or f"{provider.issuer}/token"
        )
    basic = parse_basic(authorization)
    body_id = single(params, "client_id")
    body_secret = single(params, "client_secret")
    if basic and body_secret is not None:
        raise invalid_request("client authentication must only be provided using one mechanism")
    if basic and body_id is not None and body_id != basic[0]:
        raise invalid_request("mismatch between client_id in the body and the authorization header")
    client_id, secret = basic if basic else (body_id, body_secret)
    if not client_id:
        raise invalid_request("no client authentication mechanism provided")
    client = await provider.client(client_id)
    if client is None:
        raise _unauthenticated("client not found", basic is not None)
    audit.note(application_id=client.id)  # a known client, even if its secret is wrong
    client_assertion.refuse_other_methods(client)
    if client.is_public:
        if secret:
            raise _unauthenticated(
                "client is public and must not present a secret", basic is not None
            )
        return client
    if not secret:
        raise _unauthenticated("client authentication is required", basic is not None)
    problem = client.secret_matches(secret, now_ms())
    if problem == "expired":
        raise invalid_request("client secret has expired")
    if problem is not None:
        raise _unauthenticated("invalid secret provided", basic is not None)
    return client


def _unauthenticated(description: str, used_basic: bool) -> OAuthError:
    return invalid_client(description, used_basic=used_basic)
