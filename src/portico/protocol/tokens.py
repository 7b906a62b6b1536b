"""Issuing tokens: ID tokens (OIDC Core §2), JWT access tokens (RFC 9068), opaque access
tokens and refresh tokens (stored, looked up by digest)."""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from portico.ids import digest, opaque_token
from portico.protocol import custom_claims, dpop
from portico.protocol.custom_claims import TokenFacts
from portico.protocol.provider import Provider
from portico.services.rbac import MAX_ACCESS_TOKEN_TTL

ACCESS_TOKEN = "AccessToken"
REFRESH_TOKEN = "RefreshToken"
AUTHORIZATION_CODE = "AuthorizationCode"
DEFAULT_ACCESS_TOKEN_TTL = 3600
JWT_ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §4, either spelling
CLOCK_SKEW = 60  # seconds another machine's clock may be ahead or behind

_HASH_OF_ALG = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def half_hash(value: str, alg: str) -> str:
    """``at_hash`` (OIDC Core §3.1.3.6): left half of the alg's hash, base64url (Ed25519:
    SHA-512, as the OpenID Foundation's errata set for EdDSA)."""
    hash_ = hashlib.sha512 if alg in ("EdDSA", "Ed25519") else _HASH_OF_ALG[alg[-3:]]
    digest_ = hash_(value.encode()).digest()
    return base64.urlsafe_b64encode(digest_[: len(digest_) // 2]).rstrip(b"=").decode()


@dataclass(frozen=True)
class IssuedToken:
    value: str
    expires_in: int
    scope: str


async def id_token(
    provider: Provider,
    *,
    client_id: str,
    claims: dict[str, Any],
    ttl: int,
    auth_time: int | None,
    sid: str | None,
    nonce: str | None,
    access_token: str | None,
    amr: list[str] | None = None,
    acr: str | None = None,
    alg: str | None = None,
) -> str:
    """``alg``: the application's ``idTokenSignedResponseAlg`` (None: the tenant key's)."""
    now = int(time.time())
    payload: dict[str, Any] = {
        **claims,
        "iss": provider.issuer,
        "aud": client_id,  # a string: the Go and Python SDKs reject an array
        "iat": now,
        "exp": now + ttl,
    }
    if auth_time is not None:
        payload["auth_time"] = auth_time
    if sid:
        payload["sid"] = sid
    if amr:
        payload["amr"] = amr
    if acr:
        payload["acr"] = acr
    if nonce:
        payload["nonce"] = nonce
    if access_token:
        _, used = (await provider.current_keys()).signer(alg)
        payload["at_hash"] = half_hash(access_token, used)
    return await provider.sign(payload, alg=alg)


async def jwt_access_token(
    provider: Provider,
    *,
    subject: str,
    client_id: str,
    audience: str,
    scopes: list[str],
    ttl: int,
    extra: dict[str, Any] | None = None,
    facts: TokenFacts | None = None,
) -> IssuedToken:
    """RFC 9068: ``typ: at+jwt``, ``aud`` = the resource indicator, ``scope`` always present;
    ``extra``: further claims (Logto's ``organization_id``); ``facts``: what the tenant's
    JWT customizer is told about the token (``custom_claims.py``; None: no customizing)."""
    now = int(time.time())
    scope = " ".join(scopes)
    payload = {
        "jti": opaque_token(),
        "sub": subject,
        "iat": now,
        "exp": now + ttl,
        "scope": scope,
        "client_id": client_id,
        "iss": provider.issuer,
        "aud": audience,
        **(extra or {}),
    }
    cnf = dpop.confirmation()  # RFC 9449 §6.1: bound to the client's DPoP key
    if cnf:
        payload["cnf"] = cnf
    if facts is not None:
        payload.update(await custom_claims.extra_claims(provider, payload, facts))
    return IssuedToken(await provider.sign(payload, typ="at+jwt"), ttl, scope)


async def verify_jwt_access_token(
    provider: Provider, token: str, audience: str | None = None
) -> dict[str, Any] | None:
    """The claims of a JWT access token this issuer signed and that is valid now, else None.

    RFC 9068 §4 and RFC 8725: one of the ring's keys and algorithms, ``typ: at+jwt`` (so an
    ID token is never taken for an access token), this issuer, ``aud`` when given; ``exp``
    and ``iat`` present as whole seconds, ``iat`` and any ``nbf`` not in the future, and a
    lifetime no resource can be given (an ``exp`` in milliseconds would otherwise live for
    ever). The Management API guard and introspection share it.
    """
    ring = await provider.current_keys()
    try:
        decoded = jwt.decode(token, ring.verification_keys, algorithms=list(ring.algorithms))
    except (JoseError, ValueError):
        return None
    if str(decoded.header.get("typ", "")).lower() not in JWT_ACCESS_TOKEN_TYPES:
        return None
    claims = decoded.claims
    registry = jwt.JWTClaimsRegistry(
        leeway=CLOCK_SKEW,
        iss={"essential": True, "value": provider.issuer},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError:
        return None
    exp, iat = claims["exp"], claims["iat"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (exp, iat)):
        return None
    if not 0 < exp - iat <= MAX_ACCESS_TOKEN_TTL:
        return None
    if audience is not None and claims.get("aud") != audience:
        return None
    return claims


async def opaque_access_token(
    provider: Provider,
    *,
    account_id: str,
    client_id: str,
    scopes: list[str],
    grant_id: str | None,
    ttl: int = DEFAULT_ACCESS_TOKEN_TTL,
    extra: dict[str, Any] | None = None,
) -> IssuedToken:
    """A random token for ``/oidc/me``; only its digest is stored. ``extra``: claims kept
    with it (``act`` of an exchanged token), shown by introspection."""
    value = opaque_token()
    scope = " ".join(scopes)
    cnf = dpop.confirmation()  # RFC 9449 §6.2: introspection and userinfo show and check it
    if cnf:
        extra = {**(extra or {}), "cnf": cnf}
    payload = {"accountId": account_id, "clientId": client_id, "scope": scope,
               "iat": int(time.time()), **({"extra": extra} if extra else {})}  # fmt: skip
    await provider.artifacts.save(ACCESS_TOKEN, digest(value), payload, ttl, grant_id)
    return IssuedToken(value, ttl, scope)


def within_grant(expires_at: int, payload: dict[str, Any]) -> int:
    """``expires_at`` (epoch ms), or the end of the grant a token is issued under
    (``grantExp``, see ``services.user_grants``) when that comes first."""
    grant_end = payload.get("grantExp")
    return min(expires_at, int(grant_end)) if grant_end else expires_at


async def refresh_token(
    provider: Provider,
    payload: dict[str, Any],
    grant_id: str,
    ttl: int,
    expires_at: int | None = None,
) -> str:
    """``payload["jkt"]``: the DPoP key a public client's refresh token is bound to (RFC 9449
    §5), set when minted under a binding and kept through rotation."""
    bound = dpop.current()
    if bound is not None and bound.bind_refresh:
        payload = {**payload, "jkt": bound.jkt}
    value = opaque_token()
    await provider.artifacts.save(
        REFRESH_TOKEN, digest(value), payload, ttl, grant_id, expires_at=expires_at
    )
    return value
