"""What a script is told (Logto's ``context``): the user (profile, roles with their scopes,
organizations and organization roles, SSO identities, MFA factors), the application, and for
an organization token the organization. Read fresh for every token: a script never sees a
cached answer, nor another user's."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage import jwt_customizer as repo
from portico.storage import sso_connectors as sso_repo
from portico.storage import users as users_repo


async def user_context(
    conn: AsyncConnection, tenant_id: str, user_id: str
) -> dict[str, Any] | None:
    """Logto's ``JwtCustomizerUserContext``, or None for a user that is gone."""
    user = await users_repo.get_user(conn, tenant_id, user_id)
    if user is None:
        return None
    roles = await repo.user_roles(conn, tenant_id, user_id)
    scopes = await repo.role_scopes(conn, [role["id"] for role in roles])
    sso = await sso_repo.user_identities(conn, tenant_id, user_id)
    return {
        **_profile(user),
        "hasPassword": bool(user["password_encrypted"]),
        "ssoIdentities": [
            {"issuer": i["issuer"], "identityId": i["identity_id"], "detail": i["detail"]}
            for i in sso
        ],
        "mfaVerificationFactors": await repo.mfa_factor_types(conn, tenant_id, user_id),
        "roles": [
            {
                "id": role["id"],
                "name": role["name"],
                "description": role["description"],
                "scopes": [_scope(s) for s in scopes if s["role_id"] == role["id"]],
            }
            for role in roles
        ],
        "organizations": await repo.user_organizations(conn, user_id),
        "organizationRoles": await repo.user_organization_roles(conn, user_id),
    }


def _profile(user: dict[str, Any]) -> dict[str, Any]:
    """Logto's ``userInfoSelectFields``."""
    return {
        "id": user["id"],
        "username": user["username"],
        "primaryEmail": user["primary_email"],
        "primaryPhone": user["primary_phone"],
        "name": user["name"],
        "avatar": user["avatar"],
        "customData": user["custom_data"],
        "identities": user["identities"],
        "lastSignInAt": user["last_sign_in_at"],
        "createdAt": user["created_at"],
        "updatedAt": user["updated_at"],
        "profile": user["profile"],
        "applicationId": None,
        "isSuspended": user["is_suspended"],
    }


def _scope(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "resourceId": row["resource_id"],
        "resource": {
            "tenantId": row["tenant_id"],
            "id": row["resource_id"],
            "name": row["resource_name"],
            "indicator": row["indicator"],
            "isDefault": row["is_default"],
            "accessTokenTtl": row["access_token_ttl"],
        },
    }


async def application_context(
    conn: AsyncConnection, tenant_id: str, app_id: str
) -> dict[str, Any] | None:
    """Logto's ``Application`` without ``secret``; None for a client that is not a stored
    application (a Client ID Metadata Document, as Logto's CIMD clients)."""
    app = await repo.application(conn, tenant_id, app_id)
    if app is None:
        return None
    return {
        "tenantId": app["tenant_id"],
        "id": app["id"],
        "name": app["name"],
        "description": app["description"],
        "type": app["type"],
        "oidcClientMetadata": app["oidc_client_metadata"],
        "customClientMetadata": app["custom_client_metadata"],
        "protectedAppMetadata": None,
        "customData": app["custom_data"],
        "isThirdParty": app["is_third_party"],
        "createdAt": app["created_at"],
    }


async def organization_context(
    conn: AsyncConnection, tenant_id: str, organization_id: str
) -> dict[str, Any] | None:
    """``{id, name, description, customData}`` (Logto's organization context)."""
    found = await repo.organization(conn, tenant_id, organization_id)
    if found is None:
        return None
    return {
        "id": found["id"],
        "name": found["name"],
        "description": found["description"],
        "customData": found["custom_data"],
    }
