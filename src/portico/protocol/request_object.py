"""Request objects passed by value (RFC 9101, JAR): the authorization request as a JWT the
client signed with one of its registered keys (``jwks`` or ``jwksUri``, the keys of
``private_key_jwt``), so the browser can neither read-alter nor forge its parameters.

Checked (RFC 9101 §4, §6.3, §10; the FAPI 2.0 Message Signing limits): an asymmetric ``alg``
from ``client_assertion.ALGORITHMS`` (never ``none``, never a MAC: the client's secret is
also known to this server), a ``typ`` that is absent, ``JWT`` or ``oauth-authz-req+jwt``, the
signature, ``client_id`` present and equal to the outer one, ``iss`` (when present) the
client, ``aud`` this server's issuer (a string, or an array containing it), ``exp`` present,
not past and at most an hour ahead, ``nbf``/``iat`` not in the future and at most an hour
before ``exp``, no ``request`` or ``request_uri`` inside, and a ``jti`` (when present) never
seen before for this client (the replay cache ``client_assertion`` uses).

Every refusal is ``invalid_request_object`` (RFC 9101 §6.3): the object, not the request
around it, is wrong. Encrypted request objects are not supported.
"""

from __future__ import annotations

import json
import time
from typing import Any, TypeGuard

from joserfc import jws, jwt
from joserfc.errors import JoseError

from portico.ids import digest
from portico.protocol.client_assertion import ALGORITHMS
from portico.protocol.errors import OAuthError
from portico.protocol.params import REPEATABLE, Params, single
from portico.protocol.provider import Provider
from portico.services.applications import Client
from portico.services.client_keys import ClientKeysUnavailable, key_set

MAX_LIFETIME = 3600  # FAPI 2.0 Message Signing §5.3.2.1: exp at most 60 minutes after nbf
SKEW = 30
MAX_SIZE = 16 * 1024  # far above any real request; the URL itself is capped at 8 KiB
SEEN = "RequestObject"
TYPES = frozenset({"jwt", "oauth-authz-req+jwt"})  # RFC 9101 §10.8; compared case-blind
# Claims about the JWT itself, not authorization parameters (RFC 7519 §4.1).
JWT_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti", "sub"})


def invalid_request_object(description: str) -> OAuthError:
    return OAuthError("invalid_request_object", description)


async def verify(provider: Provider, client: Client, params: Params) -> Params:
    """RFC 9101 §6.3: the parameters of the valid ``request`` object in ``params``, which
    replace the outer ones entirely (``client`` is the one the outer ``client_id`` names)."""
    token = single(params, "request") or ""
    if not token or len(token) > MAX_SIZE:
        raise invalid_request_object("the request object is empty or too long")
    header = _header(token)
    _check_header(header)
    try:
        keys = await key_set(client, header.get("kid"))
    except ClientKeysUnavailable as error:
        raise invalid_request_object(
            f"the client has no keys to verify request objects with ({error})"
        ) from None
    try:
        claims = dict(jwt.decode(token, keys, algorithms=ALGORITHMS).claims)
    except (JoseError, ValueError):
        raise invalid_request_object("the request object's signature is not valid") from None
    _check_claims(claims, client.id, provider.issuer)
    await _check_replay(provider, client, claims)
    return _as_params(claims)


def _header(token: str) -> dict[str, Any]:
    try:
        return dict(jws.extract_compact(token.encode()).protected)
    except (JoseError, ValueError, UnicodeError):
        raise invalid_request_object("the request object is not a signed JWT") from None


def _check_header(header: dict[str, Any]) -> None:
    """RFC 9101 §10.1: ``none`` (or any MAC) would let whoever alters the request sign it."""
    if header.get("alg") not in ALGORITHMS:
        raise invalid_request_object(f"request object alg {header.get('alg')!r} is not accepted")
    typ = header.get("typ")
    if typ is not None and str(typ).lower().removeprefix("application/") not in TYPES:
        raise invalid_request_object(f"request object typ {typ!r} is not accepted")


def _check_claims(claims: dict[str, Any], client_id: str, issuer: str) -> None:
    if claims.get("client_id") != client_id:
        raise invalid_request_object("the request object's client_id must be the client_id")
    if "iss" in claims and claims["iss"] != client_id:
        raise invalid_request_object("the request object's iss must be the client_id")
    audience = claims.get("aud")
    if audience != issuer and not (isinstance(audience, list) and issuer in audience):
        raise invalid_request_object("the request object's aud must be the issuer")
    if "request" in claims or "request_uri" in claims:
        raise invalid_request_object("a request object must not contain request or request_uri")
    _check_times(claims)


def _check_times(claims: dict[str, Any]) -> None:
    """RFC 9101 §10 / FAPI 2.0 Message Signing: short-lived, and not issued for later."""
    now = time.time()
    exp = claims.get("exp")
    if not _is_number(exp) or exp < now - SKEW:
        raise invalid_request_object("the request object has expired (or has no exp)")
    if exp > now + MAX_LIFETIME + SKEW:
        raise invalid_request_object("the request object lives too long (exp at most 1 hour)")
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if value is None:
            continue
        if not _is_number(value) or value > now + SKEW:
            raise invalid_request_object(f"the request object's {name} is in the future")
        if exp - value > MAX_LIFETIME:
            raise invalid_request_object(f"the request object's {name} is over 1 hour before exp")


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


async def _check_replay(provider: Provider, client: Client, claims: dict[str, Any]) -> None:
    """A leaked request URL (history, logs, Referer) starts no second authorization."""
    jti = claims.get("jti")
    if jti is None:
        return
    if not isinstance(jti, str) or not 0 < len(jti) <= 256:
        raise invalid_request_object("the request object's jti must be a short string")
    ttl = int(claims["exp"] - time.time()) + SKEW
    if not await provider.artifacts.save_once(SEEN, digest(f"{client.id}\n{jti}"), {}, ttl):
        raise invalid_request_object("the request object was already used (jti)")


def _as_params(claims: dict[str, Any]) -> Params:
    """Claims as form parameters: numbers (``max_age``) as their digits, objects
    (``claims``) as JSON, arrays only for the parameters that may repeat (``resource``)."""
    params: Params = {}
    for name, value in claims.items():
        if name in JWT_CLAIMS:
            continue
        if isinstance(value, str):
            params[name] = [value]
        elif _is_number(value) and float(value).is_integer():
            params[name] = [str(int(value))]
        elif isinstance(value, dict):
            params[name] = [json.dumps(value, separators=(",", ":"))]
        elif name in REPEATABLE and _strings(value):
            params[name] = list(value)
        else:
            raise invalid_request_object(f"the request object's {name!r} has the wrong type")
    return params


def _strings(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
