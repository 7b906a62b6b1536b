"""Token exchange (RFC 8693) as Logto does it, for applications allowed to
(``customClientMetadata.allowTokenExchange``; never third-party ones): a token naming a user
is traded for an access token of that user.

Subject tokens (``subject_token_type``):
- ``urn:logto:token-type:impersonation_token``, or ``...:access_token`` with a ``sub_``
  value: a subject token from ``POST /api/subject-tokens``, single use;
- ``urn:ietf:params:oauth:token-type:access_token``: an access token this server issued to
  a first-party application, opaque or JWT (another resource's token is welcome: the new
  token carries the user's permissions for the resource asked for, nothing more);
- ``urn:logto:token-type:personal_access_token``: a user's personal access token
  (``services/personal_access_tokens.py``).

An ``actor_token`` (an opaque access token with ``openid``) names who acts: ``act: {sub}``.
What is issued follows ``resource`` and ``organization_id`` as Logto's: a JWT for the
resource (scopes the user's roles grant), a JWT for the organization, or an opaque token for
``/oidc/me``. Every refusal of a token is ``invalid_grant``, with the reason in the log only.
"""

from __future__ import annotations

from typing import Any

from portico.ids import digest
from portico.protocol import tokens
from portico.protocol.claims import OIDC_SCOPES
from portico.protocol.custom_claims import TokenFacts
from portico.protocol.errors import OAuthError, invalid_grant, invalid_request, invalid_target
from portico.protocol.grants import register
from portico.protocol.params import Params, resources, scope_set, single
from portico.protocol.provider import Provider
from portico.services import audit, personal_access_tokens, subject_tokens
from portico.services import organizations as org_service
from portico.services.applications import TOKEN_EXCHANGE, Client
from portico.storage import rbac as rbac_repo
from portico.storage import users as users_repo

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
IMPERSONATION = "urn:logto:token-type:impersonation_token"
PERSONAL = "urn:logto:token-type:personal_access_token"
ORGANIZATION_TTL = 3600


@register(TOKEN_EXCHANGE)
async def handle(provider: Provider, client: Client, params: Params) -> dict[str, Any]:
    subject_token = single(params, "subject_token")
    subject_type = single(params, "subject_token_type")
    if not subject_token or not subject_type:
        missing = [n for n, v in (("subject_token", subject_token),
                                  ("subject_token_type", subject_type)) if not v]  # fmt: skip
        raise invalid_request(f"missing required parameter(s) {', '.join(missing)}")
    account_id, subject_context = await _subject(provider, subject_token, subject_type)
    audit.note(user_id=account_id)
    user = await users_repo.read_user(provider.engine, provider.tenant_id, account_id)
    if user is None or user["is_suspended"]:
        raise invalid_grant("the subject user does not exist or is suspended")
    extra: dict[str, Any] = {}
    actor = single(params, "actor_token")
    if actor is not None:
        extra["act"] = {"sub": await _actor(provider, actor, single(params, "actor_token_type"))}
    return await _issue(provider, client, user, params, extra, subject_context)


async def _subject(provider: Provider, value: str, kind: str) -> tuple[str, dict[str, Any] | None]:
    """The account a subject token names (``invalid_grant`` for any bad token), and the
    ``context`` a subject token was created with (``POST /api/subject-tokens``), which JWT
    customizer scripts see as ``context.grant.subjectTokenContext``."""
    if kind == PERSONAL:
        found = await personal_access_tokens.owner(provider.engine, provider.tenant_id, value)
        if found is None:
            raise invalid_grant("personal access token not found or expired")
        return found, None
    if kind == IMPERSONATION or (kind == ACCESS_TOKEN_TYPE and value.startswith("sub_")):
        payload = await subject_tokens.take(provider.artifacts, value)
        if payload is None:
            raise invalid_grant("subject token not found, expired or already used")
        return str(payload["accountId"]), dict(payload.get("context") or {})
    if kind != ACCESS_TOKEN_TYPE:
        raise invalid_grant("unsupported subject token type")
    account, client_id = await _access_token(provider, value)
    issuer = await provider.client(client_id)
    if issuer is None or issuer.is_third_party:
        raise invalid_grant("subject token was not issued to a first-party application")
    return account, None


async def _access_token(provider: Provider, value: str) -> tuple[str, str]:
    """``(account, client)`` of a valid access token of this server, opaque or JWT."""
    if value.count(".") == 2:
        claims = await tokens.verify_jwt_access_token(provider, value)
        if claims is None or not isinstance(claims.get("client_id"), str) or not claims.get("sub"):
            raise invalid_grant("invalid subject token")
        return str(claims["sub"]), str(claims["client_id"])
    found = await provider.artifacts.find(tokens.ACCESS_TOKEN, digest(value))
    if found is None or not found.payload.get("accountId"):
        raise invalid_grant("invalid subject token")
    return str(found.payload["accountId"]), str(found.payload["clientId"])


async def _actor(provider: Provider, value: str, kind: str | None) -> str:
    if kind != ACCESS_TOKEN_TYPE:
        raise invalid_grant("unsupported actor token type")
    found = await provider.artifacts.find(tokens.ACCESS_TOKEN, digest(value))
    if found is None or not found.payload.get("accountId"):
        raise invalid_grant("invalid actor token")
    if "openid" not in str(found.payload.get("scope") or "").split():
        raise invalid_grant("actor token must have openid scope")
    return str(found.payload["accountId"])


async def _issue(
    provider: Provider,
    client: Client,
    user: dict[str, Any],
    params: Params,
    extra: dict[str, Any],
    subject_context: dict[str, Any] | None,
) -> dict[str, Any]:
    requested = scope_set(single(params, "scope"))
    indicators = resources(params)
    if len(indicators) > 1:
        raise invalid_target("only a single resource indicator value is allowed")
    organization_id = single(params, "organization_id")
    facts = TokenFacts(
        "AccessToken", account_id=user["id"], gty=TOKEN_EXCHANGE, organization_id=organization_id,
        subject_token_context=subject_context,
    )  # fmt: skip
    if organization_id:
        await _organization_access(provider, client, user, organization_id)
        extra = {**extra, "organization_id": organization_id} if indicators else extra
    if indicators:
        resource = await provider.resource(indicators[0])
        if resource is None:
            raise invalid_target("resource indicator is missing, or unknown")
        async with provider.engine.connect() as conn:
            allowed = await rbac_repo.user_scope_names(
                conn, user["id"], resource["id"], organization_id or None
            )
        token = await tokens.jwt_access_token(
            provider, subject=user["id"], client_id=client.id, audience=resource["indicator"],
            scopes=[s for s in requested if s in allowed],
            ttl=int(resource["access_token_ttl"] or tokens.DEFAULT_ACCESS_TOKEN_TTL),
            extra=extra, facts=facts,
        )  # fmt: skip
    elif organization_id:
        async with provider.engine.connect() as conn:
            allowed = await org_service.token_scopes(conn, organization_id, user["id"])
        token = await tokens.jwt_access_token(
            provider, subject=user["id"], client_id=client.id,
            audience=f"{org_service.TOKEN_AUDIENCE_PREFIX}{organization_id}",
            scopes=[s for s in requested if s in allowed], ttl=ORGANIZATION_TTL, extra=extra,
            facts=facts,
        )  # fmt: skip
    else:
        token = await tokens.opaque_access_token(
            provider, account_id=user["id"], client_id=client.id,
            scopes=[s for s in requested if s in OIDC_SCOPES], grant_id=None, extra=extra,
        )  # fmt: skip
    return {
        "access_token": token.value,
        "expires_in": token.expires_in,
        "token_type": "Bearer",
        "scope": token.scope,
    }


async def _organization_access(
    provider: Provider, client: Client, user: dict[str, Any], organization_id: str
) -> None:
    async with provider.engine.connect() as conn:
        refusal = await org_service.token_refusal(
            conn, provider.tenant_id, organization_id, user["id"],
            app_id=client.id, is_third_party=client.is_third_party,
        )  # fmt: skip
    if refusal:
        raise OAuthError("access_denied", refusal, 403)
