"""Custom claims for JWT access tokens (Logto's JWT customizer at token time, its
``extraTokenClaims``): when the tenant has a script for the token's kind, it runs with
Logto's ``token`` and ``context`` and the claims it returns join the token.

- Claims the token already has (``iss``, ``sub``, ``aud``, ``exp``, ``iat``, ``jti``,
  ``scope``, ``client_id``, ``cnf``, ``organization_id``, ``act``...) are never replaced.
- ``api.denyAccess(message)`` refuses the token: ``access_denied`` with that message.
- Any other failure (a throw, a timeout, the memory limit) issues the token without custom
  claims, as Logto does, unless the customizer sets ``blockIssuanceOnError``: then
  ``invalid_request`` "Custom claims script error: ...".
- Every run leaves a ``JwtCustomizer.AccessToken|ClientCredentials`` audit entry, and the
  exchange's own entry gets ``customTokenClaims`` or ``customJwtError`` (Logto's members).

With no script configured the cost is one cached read (0.5 s, every process re-reads a
change within that time); the context is read for every run, never cached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from portico.jwt_customizer import config, context, runner
from portico.jwt_customizer.sandbox import shared
from portico.protocol.errors import OAuthError, invalid_request
from portico.protocol.provider import Provider
from portico.services import audit
from portico.services.applications import TOKEN_EXCHANGE
from portico.services.errors import ServiceError

log = logging.getLogger("portico.jwt_customizer")
TOPIC = "jwt-customizer"
# Logto's reserved claims; whatever else the token already carries is kept as well.
RESERVED = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "cnf", "kid"}
)
Kind = Literal["AccessToken", "ClientCredentials"]


@dataclass(frozen=True)
class TokenFacts:
    """What Logto's token object knows beyond the JWT's claims."""

    kind: Kind
    account_id: str | None = None
    grant_id: str | None = None
    gty: str | None = None
    sid: str | None = None
    organization_id: str | None = None
    # Token exchange of a subject token: the context it was created with (Logto's
    # ``context.grant``; other grants have none).
    subject_token_context: dict[str, Any] | None = None


def _token_type(kind: Kind) -> config.TokenType:
    if kind == "ClientCredentials":
        return config.TokenType.CLIENT_CREDENTIALS
    return config.TokenType.ACCESS_TOKEN


async def configured(provider: Provider, kind: Kind) -> dict[str, Any] | None:
    """The customizer for tokens of ``kind`` (environment variables opened), or None."""
    if provider.jwt_customizers is None:
        provider.jwt_customizers = provider.coherence.cache(TOPIC, max_entries=4)
    token_type = _token_type(kind)

    async def load(_: str) -> dict[str, Any]:
        if provider.secret_sealer is None:
            return {"value": None}
        sealer = provider.secret_sealer.sealer  # the server's key, as connector secrets
        async with provider.engine.connect() as conn:
            try:
                found = await config.read(conn, sealer, provider.tenant_id, token_type)
            except ServiceError as problem:  # as Logto: an unreadable customizer is none
                log.warning("JWT customizer %s ignored: %s", token_type.key, problem.message)
                found = None
        return {"value": found if found and found.get("script") else None}

    box = await provider.jwt_customizers.get(token_type.key, load)
    return box["value"] if box else None


async def extra_claims(
    provider: Provider, claims: dict[str, Any], facts: TokenFacts
) -> dict[str, Any]:
    """The claims to add to ``claims`` (the JWT's own), none when no script is set."""
    customizer = await configured(provider, facts.kind)
    if customizer is None:
        return {}
    token = _script_token(claims, facts)
    script_context = await _context(provider, claims, facts)
    try:
        result = await runner.run(
            shared(),
            customizer["script"],
            token=token,
            context=script_context,
            environment=customizer.get("environmentVariables"),
        )
    except runner.ScriptFailure as failure:
        await _record(provider, facts, claims, error=failure.body)
        if failure.denied:
            raise OAuthError("access_denied", failure.message) from None
        if customizer.get("blockIssuanceOnError"):
            raise invalid_request(f"Custom claims script error: {failure.message}") from None
        return {}
    await _record(provider, facts, claims, result=result)
    return {k: v for k, v in result.items() if k not in RESERVED and k not in claims}


def _script_token(claims: dict[str, Any], facts: TokenFacts) -> dict[str, Any]:
    """Logto's token payload (oidc-provider's ``IN_PAYLOAD`` members)."""
    token: dict[str, Any] = {
        "jti": claims["jti"],
        "aud": claims["aud"],
        "scope": claims.get("scope"),
        "clientId": claims["client_id"],
        "kind": facts.kind,
    }
    if facts.kind == "AccessToken":
        optional = {"accountId": facts.account_id, "grantId": facts.grant_id, "gty": facts.gty,
                    "sid": facts.sid, "sessionUid": facts.sid}  # fmt: skip
        token.update({k: v for k, v in optional.items() if v})
    return token


async def _context(provider: Provider, claims: dict[str, Any], facts: TokenFacts) -> dict[str, Any]:
    tenant = provider.tenant_id
    found: dict[str, Any] = {}
    async with provider.engine.connect() as conn:
        if facts.kind == "AccessToken" and facts.account_id:
            found["user"] = await context.user_context(conn, tenant, facts.account_id)
        application = await context.application_context(conn, tenant, claims["client_id"])
        if application is not None:
            found["application"] = application
        if facts.subject_token_context is not None:
            found["grant"] = {"type": TOKEN_EXCHANGE,
                              "subjectTokenContext": facts.subject_token_context}  # fmt: skip
        if facts.kind == "AccessToken" and facts.organization_id:
            organization = await context.organization_context(conn, tenant, facts.organization_id)
            if organization is not None:
                found["organization"] = organization
    return found


async def _record(
    provider: Provider,
    facts: TokenFacts,
    claims: dict[str, Any],
    *,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    """The run's own entry, and Logto's members on the exchange's entry."""
    if error is not None:
        audit.note(customJwtError=error)
    else:
        audit.note(customTokenClaims=result)
    user_id = facts.account_id if facts.kind == "AccessToken" else None
    async with provider.engine.begin() as conn:
        await audit.record(
            conn,
            provider.tenant_id,
            f"JwtCustomizer.{facts.kind}",
            result=audit.LogResult.ERROR if error is not None else audit.LogResult.SUCCESS,
            user_id=user_id,
            application_id=claims["client_id"],
            sessionId=facts.sid,
            tokenType=_token_type(facts.kind).value,
            customTokenClaims=result,
            customJwtError=error,
        )
