"""Pushed authorization requests (RFC 9126): a client sends its authorization request
directly to ``/oidc/request`` (authenticated, as at the token endpoint) and gets back a
short-lived, single-use ``request_uri`` to send the browser to ``/oidc/auth`` with, so the
request's parameters are neither visible in nor alterable through the browser.

The pushed request is checked as any authorization request would be, stored (its digest as
the key, as every artifact), and taken out once by ``/oidc/auth``; a client that requires
PAR (``oidcClientMetadata.requirePushedAuthorizationRequests``) may not send its requests any
other way.

A push may carry a signed request object (``request``, RFC 9126 §3, RFC 9101): the pushed
request is then the object's contents, checked as at ``/oidc/auth``, and counts as signed
for a client that requires signed request objects.
"""

from __future__ import annotations

from typing import Any

from portico.ids import digest, opaque_token
from portico.protocol import dpop
from portico.protocol.authorization.request import (
    AuthorizationRequest,
    RedirectError,
    check_request_object_alone,
    named_client,
    parse,
)
from portico.protocol.errors import OAuthError, invalid_request
from portico.protocol.params import Params, single
from portico.protocol.provider import Provider
from portico.services.applications import Client

PUSHED = "PushedAuthorizationRequest"
URN = "urn:ietf:params:oauth:request_uri:"
TTL = 60  # RFC 9126 §2.2: short-lived


async def push(
    provider: Provider, client: Client, params: Params, dpop_proof: str | None = None
) -> dict[str, Any]:
    """RFC 9126 §2.1-2.2: the request checked and kept; ``{request_uri, expires_in}``. A
    problem with the request itself is answered here, as JSON (no redirect).

    ``dpop_proof`` (RFC 9449 §10.1): a DPoP proof at the PAR endpoint binds the code to its
    key, as ``dpop_jkt`` would (both: they must name the same key)."""
    if single(params, "request_uri") is not None:
        raise invalid_request("'request_uri' parameter must not be used at the PAR endpoint")
    given = single(params, "client_id")
    if given is not None and given != client.id:
        raise invalid_request("client_id does not match the authenticated client")
    try:
        _, request = await parse(provider, {**params, "client_id": [client.id]}, pushed=True)
    except RedirectError as error:
        raise error.error from None
    if dpop_proof is not None:
        proof = await dpop.check(
            provider, dpop_proof, method="POST", url=f"{provider.issuer}/request",
            require_nonce=True,
        )  # fmt: skip
        if request.dpop_jkt is not None and request.dpop_jkt != proof.jkt:
            raise dpop.invalid_proof("dpop_jkt does not match the DPoP proof's key")
        request.dpop_jkt = proof.jkt
    key = opaque_token()
    await provider.artifacts.save(PUSHED, digest(key), request.to_payload(), TTL)
    return {"request_uri": URN + key, "expires_in": TTL}


def is_pushed(params: Params) -> bool:
    """The request names a pushed one (any other ``request_uri``, a request object by
    reference, is refused as unsupported by ``request.parse``)."""
    return (single(params, "request_uri") or "").startswith(URN)


async def pull(provider: Provider, params: Params) -> tuple[Client, AuthorizationRequest]:
    """RFC 9126 §4: the pushed request a ``request_uri`` names, taken out once; the
    ``client_id`` sent with it must be the one that pushed it. A pushed request made before
    the client came to require signed request objects is refused if it was not one."""
    check_request_object_alone(params)
    uri = single(params, "request_uri") or ""
    client = await named_client(provider, params)
    stored = None
    if uri.startswith(URN) and len(uri) <= len(URN) + 128:
        key = digest(uri.removeprefix(URN))
        found = await provider.artifacts.find(PUSHED, key)
        if found is not None and await provider.artifacts.consume(PUSHED, key):
            stored = found.payload
    if stored is None:
        raise OAuthError(
            "invalid_request_uri", "request_uri is invalid, expired, or was already used"
        )
    request = AuthorizationRequest.from_payload(stored)
    if request.client_id != client.id:
        raise invalid_request("request_uri was pushed by another client")
    if client.require_signed_request_object and not request.signed:
        raise invalid_request("this client must send its authorization requests as a signed "
                              "request object (request)")  # fmt: skip
    return client, request
