"""Logto's entity shapes as the Management API returns them (camelCase, epoch milliseconds),
and the conversions from storage rows. Shared by the route modules, since lists of one entity
hang off another (a role's users, a user's roles).

Request bodies derive from :class:`Body`: unknown members are refused with a 400 naming them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Applications ------------------------------------------------------------------------------
class OidcClientMetadata(Body):
    redirectUris: list[str] = Field(max_length=100)
    postLogoutRedirectUris: list[str] = Field(max_length=100)
    backchannelLogoutUri: str | None = Field(None, max_length=2048)
    backchannelLogoutSessionRequired: bool | None = None
    # OIDC Front-Channel Logout 1.0 §2 (Portico; Logto has none).
    frontchannelLogoutUri: str | None = Field(None, max_length=2048)
    frontchannelLogoutSessionRequired: bool | None = None
    # RFC 7591 ``id_token_signed_response_alg`` (Portico; Logto signs with the tenant key).
    idTokenSignedResponseAlg: str | None = Field(None, max_length=16)
    # RFC 9449 §5.2 ``dpop_bound_access_tokens`` (Portico; Logto has DPoP off).
    dpopBoundAccessTokens: bool | None = None
    # RFC 9101 §10.5 (Portico; Logto has no request objects).
    requireSignedRequestObject: bool | None = None
    logoUri: str | None = Field(None, max_length=2048)
    # RFC 9126 §5 ``require_pushed_authorization_requests`` (Portico; Logto has no such key).
    requirePushedAuthorizationRequests: bool | None = None
    # RFC 7591 names (Logto has no client keys): ``private_key_jwt`` with a JWKS or its URL.
    tokenEndpointAuthMethod: str | None = Field(None, max_length=32)
    jwks: dict[str, Any] | None = None
    jwksUri: str | None = Field(None, max_length=2048)


class CustomClientMetadata(Body):
    corsAllowedOrigins: list[str] | None = Field(None, max_length=100)
    idTokenTtl: int | None = Field(None, ge=1)
    refreshTokenTtl: int | None = Field(None, ge=1, description="deprecated, seconds")
    refreshTokenTtlInDays: int | None = Field(None, ge=1, le=180)
    tenantId: str | None = None
    alwaysIssueRefreshToken: bool | None = None
    rotateRefreshToken: bool | None = None
    allowTokenExchange: bool | None = None
    isDeviceFlow: bool | None = None
    maxAllowedGrants: int | None = Field(None, ge=1)


class ApplicationOut(BaseModel):
    tenantId: str
    id: str
    name: str
    secret: str | None = Field(
        None, description="The Default secret, in the creation response only (shown once)."
    )
    description: str | None
    type: str
    oidcClientMetadata: dict[str, Any]
    customClientMetadata: dict[str, Any]
    protectedAppMetadata: dict[str, Any] | None = None
    customData: dict[str, Any]
    isThirdParty: bool
    appLevelAccessControlEnabled: bool = False
    createdAt: int = Field(description="epoch milliseconds")


class ApplicationDetailOut(ApplicationOut):
    isAdmin: bool = False


def application_out(row: dict[str, Any], secret: str | None = None) -> dict[str, Any]:
    out = {
        "tenantId": row["tenant_id"],
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "type": row["type"],
        # Logto hides a SAML application's internal redirect URI (Portico's callback)
        "oidcClientMetadata": {"redirectUris": [], "postLogoutRedirectUris": []}
        if row["type"] == "SAML"
        else row["oidc_client_metadata"],
        "customClientMetadata": row["custom_client_metadata"],
        "protectedAppMetadata": None,
        "customData": row["custom_data"],
        "isThirdParty": row["is_third_party"],
        "appLevelAccessControlEnabled": False,
        "createdAt": row["created_at"],
    }
    if secret is not None:
        out["secret"] = secret
    return out


class SecretOut(BaseModel):
    tenantId: str
    applicationId: str
    name: str
    value: str | None = Field(
        None, description="Only in the creation response; Portico keeps a digest, not the value."
    )
    valueHint: str = Field(description="The last four characters, to tell secrets apart.")
    createdAt: int
    expiresAt: int | None


def secret_out(row: dict[str, Any], value: str | None = None) -> dict[str, Any]:
    out = {
        "tenantId": row["tenant_id"],
        "applicationId": row["application_id"],
        "name": row["name"],
        "valueHint": row["value_hint"],
        "createdAt": row["created_at"],
        "expiresAt": row["expires_at"],
    }
    if value is not None:
        out["value"] = value
    return out


# Users -------------------------------------------------------------------------------------
class Address(Body):
    formatted: str | None = None
    streetAddress: str | None = None
    locality: str | None = None
    region: str | None = None
    postalCode: str | None = None
    country: str | None = None


class UserProfile(Body):
    """OpenID Connect standard claims kept beside the user's own columns."""

    familyName: str | None = None
    givenName: str | None = None
    middleName: str | None = None
    nickname: str | None = None
    preferredUsername: str | None = None
    profile: str | None = None
    website: str | None = None
    gender: str | None = None
    birthdate: str | None = None
    zoneinfo: str | None = None
    locale: str | None = None
    address: Address | None = None


class Identity(Body):
    userId: str = Field(min_length=1, max_length=256)
    details: dict[str, Any] | None = None


class UserOut(BaseModel):
    id: str
    username: str | None
    primaryEmail: str | None
    primaryPhone: str | None
    name: str | None
    avatar: str | None
    customData: dict[str, Any]
    identities: dict[str, Any]
    lastSignInAt: int | None
    createdAt: int
    updatedAt: int
    profile: dict[str, Any]
    applicationId: str | None = None
    isSuspended: bool
    hasPassword: bool


def user_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "username": row["username"],
        "primaryEmail": row["primary_email"],
        "primaryPhone": row["primary_phone"],
        "name": row["name"],
        "avatar": row["avatar"],
        "customData": row["custom_data"],
        "identities": row["identities"],
        "lastSignInAt": row["last_sign_in_at"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "profile": row["profile"],
        "applicationId": None,
        "isSuspended": row["is_suspended"],
        "hasPassword": bool(row["password_encrypted"]),
    }


# Roles, resources, scopes ------------------------------------------------------------------
# Role assignment bodies shared by /applications/:id/roles and /users/:id/roles.
class RoleIds(Body):
    roleIds: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(max_length=100)


class RoleIdsAdded(BaseModel):
    roleIds: list[str]
    addedRoleIds: list[str]


class RoleIdsOut(BaseModel):
    roleIds: list[str]


class RoleOut(BaseModel):
    tenantId: str
    id: str
    name: str
    description: str
    type: str
    isDefault: bool


def role_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenantId": row["tenant_id"],
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "type": row["type"],
        "isDefault": row["is_default"],
    }


class ResourceOut(BaseModel):
    tenantId: str
    id: str
    name: str
    indicator: str
    isDefault: bool
    accessTokenTtl: int = Field(description="seconds")


def resource_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenantId": row["tenant_id"],
        "id": row["id"],
        "name": row["name"],
        "indicator": row["indicator"],
        "isDefault": row["is_default"],
        "accessTokenTtl": row["access_token_ttl"],
    }


class ScopeOut(BaseModel):
    tenantId: str
    id: str
    resourceId: str
    name: str
    description: str | None
    createdAt: int


def scope_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenantId": row["tenant_id"],
        "id": row["id"],
        "resourceId": row["resource_id"],
        "name": row["name"],
        "description": row["description"],
        "createdAt": row["created_at"],
    }


class LogOut(BaseModel):
    tenantId: str
    id: str
    key: str
    payload: dict[str, Any] = Field(
        description="result (Success|Error), ip, userAgent, userId, applicationId, error..."
    )
    createdAt: int


def log_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenantId": row["tenant_id"],
        "id": row["id"],
        "key": row["key"],
        "payload": row["payload"],
        "createdAt": row["created_at"],
    }


# Organizations -----------------------------------------------------------------------------
class OrganizationOut(BaseModel):
    tenantId: str
    id: str
    name: str
    description: str | None
    customData: dict[str, Any]
    isMfaRequired: bool
    isTrustedDeviceAllowed: bool = True
    color: dict[str, Any] = Field(default_factory=dict)
    branding: dict[str, Any] = Field(default_factory=dict)
    customCss: str | None = None
    createdAt: int


def organization_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenantId": row["tenant_id"],
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "customData": row["custom_data"],
        "isMfaRequired": row["is_mfa_required"],
        "isTrustedDeviceAllowed": row.get("is_trusted_device_allowed", True),
        "color": row.get("color") or {},
        "branding": row.get("branding") or {},
        "customCss": row.get("custom_css"),
        "createdAt": row["created_at"],
    }


class OrganizationRoleOut(BaseModel):
    tenantId: str
    id: str
    name: str
    description: str | None
    type: str


def organization_role_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenantId": row["tenant_id"],
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "type": row["type"],
    }


class OrganizationScopeOut(BaseModel):
    tenantId: str
    id: str
    name: str
    description: str | None


def organization_scope_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenantId": row["tenant_id"],
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
    }


class NamedRef(BaseModel):
    """An organization role or scope as lists of another entity show it."""

    id: str
    name: str


Id = Annotated[str, Field(min_length=1, max_length=128)]


class OrganizationIds(Body):
    organizationIds: list[Id] = Field(max_length=100)
