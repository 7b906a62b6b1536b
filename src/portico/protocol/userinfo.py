"""UserInfo (OpenID Connect Core §5.3): opaque access tokens only, as Logto."""

from __future__ import annotations

from typing import Any

from portico.ids import digest
from portico.protocol import tokens
from portico.protocol.claims import organization_claims, user_claims, wants_organizations
from portico.protocol.errors import OAuthError, invalid_token
from portico.protocol.provider import Provider
from portico.storage import rbac as rbac_repo


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
    stored, user = await provider.artifacts.find_with_account(tokens.ACCESS_TOKEN, digest(token))
    if stored is None:
        raise invalid_token("access token is invalid or expired")
    scopes = stored.payload["scope"].split()
    if "openid" not in scopes:
        raise OAuthError("insufficient_scope", "access token lacks the openid scope", 403)
    if user is None or user["is_suspended"]:
        raise invalid_token("the user of this token no longer exists or is suspended")
    roles: list[str] = []
    organizations = None
    if "roles" in scopes or wants_organizations(scopes):  # few clients ask for these
        async with provider.engine.connect() as conn:
            if "roles" in scopes:
                roles = await rbac_repo.user_role_names(conn, user["id"])
            organizations = await organization_claims(
                provider, conn, user["id"], stored.payload["clientId"], scopes
            )
    return user_claims(user, scopes, roles, for_id_token=False, organizations=organizations)
