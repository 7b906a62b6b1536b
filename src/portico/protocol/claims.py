"""Scopes to claims (OpenID Connect Core §5.4, plus Logto's scopes and claim shapes)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.protocol.provider import Provider
from portico.services import organizations as org_service
from portico.services.organizations import Claims as OrganizationClaims

OIDC_SCOPES = (
    "openid",
    "offline_access",
    "profile",
    "email",
    "phone",
    "address",
    "custom_data",
    "identities",
    "roles",
    "urn:logto:scope:organizations",
    "urn:logto:scope:organization_roles",
    "urn:logto:scope:sessions",
    "urn:logto:scope:trusted_devices",
)

PROFILE_CLAIMS = (
    "name",
    "family_name",
    "given_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "updated_at",
    "username",
    "created_at",
)

CLAIMS_SUPPORTED = (
    "sub",
    *PROFILE_CLAIMS,
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
    "custom_data",
    "identities",
    "sso_identities",
    "roles",
    "organizations",
    "organization_data",
    "organization_roles",
    "sid",
    "auth_time",
    "amr",
    "acr",
    "iss",
)

# Claims that go to userinfo always but into ID tokens only when enabled (Logto's
# ``idToken.enabledExtendedClaims``, seeded with these three).
ID_TOKEN_EXTENDED_CLAIMS = frozenset({"roles", "organizations", "organization_roles"})


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _profile_claims(user: dict[str, Any]) -> dict[str, Any]:
    profile = {_snake(k): v for k, v in (user.get("profile") or {}).items()}
    claims: dict[str, Any] = {
        "name": user.get("name"),
        "picture": user.get("avatar"),
        "username": user.get("username"),
        "preferred_username": profile.pop("preferred_username", None) or user.get("username"),
        "created_at": user["created_at"],
        "updated_at": user["updated_at"],
    }
    for key in (
        "family_name",
        "given_name",
        "middle_name",
        "nickname",
        "profile",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
    ):
        if profile.get(key) is not None:
            claims[key] = profile[key]
    return claims


def user_claims(
    user: dict[str, Any],
    scopes: list[str],
    roles: list[str],
    *,
    for_id_token: bool,
    organizations: OrganizationClaims | None = None,
) -> dict[str, Any]:
    """Claims of ``user`` released by ``scopes``; ``sub`` always. ``organizations``: the
    user's organizations as this application may see them (see ``services.organizations``)."""
    orgs = organizations or OrganizationClaims([], [])
    claims: dict[str, Any] = {"sub": user["id"]}
    granted = set(scopes)
    if "profile" in granted:
        claims.update(_profile_claims(user))
    if "email" in granted:
        claims["email"] = user.get("primary_email")
        claims["email_verified"] = bool(user.get("primary_email"))
    if "phone" in granted:
        claims["phone_number"] = user.get("primary_phone")
        claims["phone_number_verified"] = bool(user.get("primary_phone"))
    if "address" in granted and (user.get("profile") or {}).get("address"):
        claims["address"] = user["profile"]["address"]
    extended: dict[str, Any] = {}
    if "custom_data" in granted:
        extended["custom_data"] = user.get("custom_data") or {}
    if "identities" in granted:
        extended["identities"] = user.get("identities") or {}
        extended["sso_identities"] = []
    if "roles" in granted:
        extended["roles"] = roles
    if "urn:logto:scope:organizations" in granted:
        extended["organizations"] = [o["id"] for o in orgs.organizations]
        extended["organization_data"] = [
            {"id": o["id"], "name": o["name"], "description": o["description"]}
            for o in orgs.organizations
        ]
    if "urn:logto:scope:organization_roles" in granted:
        extended["organization_roles"] = orgs.roles
    if for_id_token:
        extended = {k: v for k, v in extended.items() if k in ID_TOKEN_EXTENDED_CLAIMS}
    claims.update(extended)
    return claims


_ACCOUNT_SCOPES = frozenset(
    {"roles", "urn:logto:scope:organizations", "urn:logto:scope:organization_roles"}
)


def wants_account_claims(scopes: list[str]) -> bool:
    """Whether any granted scope releases roles or organizations (read from the database)."""
    return not _ACCOUNT_SCOPES.isdisjoint(scopes)


def wants_organizations(scopes: list[str]) -> bool:
    """Whether ``scopes`` ask for organization claims (which cost a read)."""
    return bool(
        {org_service.SCOPE_ORGANIZATIONS, org_service.SCOPE_ORGANIZATION_ROLES} & set(scopes)
    )


async def organization_claims(
    provider: Provider, conn: AsyncConnection, user_id: str, client_id: str, scopes: list[str]
) -> OrganizationClaims | None:
    """Read only when an organizations scope asks for them."""
    if not wants_organizations(scopes):
        return None
    client = await provider.client(client_id)
    return await org_service.claims_for(
        conn, user_id, app_id=client_id, is_third_party=bool(client and client.is_third_party)
    )
