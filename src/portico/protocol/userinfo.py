"""UserInfo (OpenID Connect Core §5.3): opaque access tokens only, as Logto."""

from __future__ import annotations

import contextlib
from typing import Any

from portico.ids import digest
from portico.protocol import tokens
from portico.protocol.claims import organization_claims, user_claims, wants_organizations
from portico.protocol.errors import OAuthError, invalid_token
from portico.protocol.provider import Provider
from portico.storage import rbac as rbac_repo
from portico.storage import users as users_repo
from portico.storage.hot_path import connection_unless_hot


def bearer_token(authorization: str | None) -> str | None:
    """RFC 6750 §2.1."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


async def userinfo(provider: Provider, token: str | None) -> dict[str, Any]:
    if not token:
        raise invalid_token("no access token provided")
    if token.count(".") == 2:
        raise invalid_token("token audience prevents accessing the userinfo endpoint")
    # Token and user: hot reads on SQLite, else one connection for both.
    async with connection_unless_hot(provider.engine) as conn:
        stored = await provider.artifacts.find(tokens.ACCESS_TOKEN, digest(token), conn)
        if stored is None:
            raise invalid_token("access token is invalid or expired")
        scopes = stored.payload["scope"].split()
        if "openid" not in scopes:
            raise OAuthError("insufficient_scope", "access token lacks the openid scope", 403)
        user = await users_repo.read_user(
            provider.engine, provider.tenant_id, stored.payload["accountId"], conn
        )
        if user is None or user["is_suspended"]:
            raise invalid_token("the user of this token no longer exists or is suspended")
        roles: list[str] = []
        organizations = None
        if "roles" in scopes or wants_organizations(scopes):  # few clients ask for these
            async with contextlib.AsyncExitStack() as stack:
                extra = conn or await stack.enter_async_context(provider.engine.connect())
                if "roles" in scopes:
                    roles = await rbac_repo.user_role_names(extra, user["id"])
                organizations = await organization_claims(
                    provider, extra, user["id"], stored.payload["clientId"], scopes
                )
    return user_claims(user, scopes, roles, for_id_token=False, organizations=organizations)
