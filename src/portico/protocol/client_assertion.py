"""Client authentication with a signed JWT (RFC 7523 §2.2; OpenID Connect Core §9
``private_key_jwt`` and ``client_secret_jwt``): the client signs a short-lived assertion
about itself with one of its registered keys, or MACs it with one of its secrets (kept
sealed for that, ``services.applications.SecretSealer``).

Checked: the signature (the client's keys, the algorithms below only), ``iss`` and ``sub``
both the client, ``aud`` this server's issuer identifier, or for clients that still send a
URL the endpoint called or the token endpoint (draft-ietf-oauth-rfc7523bis prefers the
issuer; Authlib sends the token endpoint everywhere), ``exp`` present and at most an hour
ahead (FAPI 2.0's bound; Authlib's default lifetime is an hour), ``nbf``/``iat`` not in the
future, and ``jti`` never seen before for this client until the assertion expires
(a replay cache shared by every process).
"""

from __future__ import annotations

import json
import time
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from portico.ids import digest
from portico.protocol.errors import invalid_client, invalid_request
from portico.protocol.params import Params, single
from portico.protocol.provider import Provider
from portico.services import audit
from portico.services.applications import ASSERTION_METHODS, KEY_METHODS, SECRET_JWT, Client
from portico.services.client_keys import ClientKeysUnavailable, key_set

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
              "EdDSA"]  # fmt: skip
HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"]  # client_secret_jwt only
MAX_LIFETIME = 3600
SKEW = 30
SEEN = "ClientAssertion"
MAX_ASSERTION = 8192


def presented(params: Params) -> bool:
    return single(params, "client_assertion") is not None


async def authenticate(provider: Provider, params: Params, endpoint: str) -> Client:
    """The client a valid assertion authenticates; ``invalid_client`` otherwise (the same
    answer for every reason, which the server log tells apart)."""
    if single(params, "client_assertion_type") != ASSERTION_TYPE:
        raise invalid_request(f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = single(params, "client_assertion") or ""
    if len(assertion) > MAX_ASSERTION:
        raise invalid_request("client_assertion is too long")
    header, claims = _peek(assertion)
    client_id = claims.get("iss")
    if not isinstance(client_id, str) or claims.get("sub") != client_id:
        raise invalid_client("the assertion's iss and sub must both be the client_id")
    given = single(params, "client_id")
    if given is not None and given != client_id:
        raise invalid_request("client_id does not match the client assertion")
    client = await provider.client(client_id)
    if client is None:
        raise invalid_client("client not found")
    audit.note(application_id=client.id)
    if client.token_endpoint_auth_method == SECRET_JWT:
        verified = _verify_with_secret(provider, client, assertion)
    elif client.token_endpoint_auth_method in KEY_METHODS:
        verified = await _verify_with_keys(client, header, assertion)
    else:
        raise invalid_client("the client is not registered for private_key_jwt")
    accepted = {provider.issuer, endpoint, f"{provider.issuer}/token"}
    _check_claims(dict(verified.claims), accepted)
    ttl = int(claims["exp"] - time.time()) + SKEW
    jti = str(claims["jti"])
    if not await provider.artifacts.save_once(SEEN, digest(f"{client.id}\n{jti}"), {}, ttl):
        raise invalid_client("the client assertion was already used (jti)")
    return client


async def _verify_with_keys(client: Client, header: dict[str, Any], assertion: str) -> jwt.Token:
    """``private_key_jwt``: one of the client's public keys, an asymmetric algorithm."""
    try:
        keys = await key_set(client, header.get("kid"))
        return jwt.decode(assertion, keys, algorithms=ALGORITHMS)
    except ClientKeysUnavailable as error:
        raise invalid_client(f"the client's keys could not be read ({error})") from None
    except (JoseError, ValueError):
        raise invalid_client("the client assertion's signature is not valid") from None


def _verify_with_secret(provider: Provider, client: Client, assertion: str) -> jwt.Token:
    """``client_secret_jwt`` (OIDC Core §9): an HMAC with one of the client's unexpired
    secrets, those kept sealed for it (a secret made before the application switched to
    this method has no sealed copy and cannot be used)."""
    now = int(time.time() * 1000)
    sealer = provider.secret_sealer
    for secret in client.secrets:
        if secret.sealed is None or sealer is None:
            continue
        if secret.expires_at is not None and secret.expires_at <= now:
            continue
        value = sealer.open(client.id, secret.value_digest, secret.sealed)
        if value is None:
            continue
        try:
            return jwt.decode(assertion, OctKey.import_key(value), algorithms=HMAC_ALGORITHMS)
        except (JoseError, ValueError):
            continue
    raise invalid_client("the client assertion's signature is not valid (client_secret_jwt)")


def _peek(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims before the signature is checked (to find the client and its key)."""
    try:
        compact = jws.extract_compact(assertion.encode())
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeDecodeError):
        raise invalid_client("client_assertion is not a JWT") from None
    if not isinstance(claims, dict):
        raise invalid_client("client_assertion is not a JWT")
    return dict(compact.protected), claims


def _check_claims(claims: dict[str, Any], accepted: set[str]) -> None:
    now = time.time()
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if not audiences or any(a not in accepted for a in audiences):
        raise invalid_client(
            "the client assertion's audience must be the issuer (or this or the token endpoint)"
        )
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp < now - SKEW:
        raise invalid_client("the client assertion has expired (or has no exp)")
    if exp > now + MAX_LIFETIME + SKEW:
        raise invalid_client("the client assertion lives too long (exp at most an hour away)")
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if value is not None and (not isinstance(value, int | float) or value > now + SKEW):
            raise invalid_client(f"the client assertion's {name} is in the future")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 256:
        raise invalid_client("the client assertion needs a jti")


def refuse_other_methods(client: Client) -> None:
    """A client registered for keys authenticates with them only (a secret it may still
    hold, or none, is not enough)."""
    if client.token_endpoint_auth_method in ASSERTION_METHODS:
        raise invalid_client(
            f"the client must authenticate with {client.token_endpoint_auth_method}"
        )
