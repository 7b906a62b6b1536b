"""The records of Portico's export format (``docs/export-format.md``), one Pydantic model per
kind, and where each kind is stored.

A record's ``data`` uses the camelCase names of Logto's API for the columns of its table, so a
record maps to a row by renaming alone (``row_of`` / ``data_of``). The models check every value
against what its column and Portico's rules accept, so a bad line is reported with its line
number before anything is written, instead of surfacing later as a database error.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlalchemy import Table

from portico.services import applications, passwords, rbac
from portico.services import users as user_rules
from portico.storage import tables

FORMAT = "portico-export"
VERSION = 1


def encryption_key_check(key: bytes) -> str:
    """A short keyed tag of a constant: tells whether two instances share an encryption key
    (so sealed connector secrets and TOTP keys open, and backup-code HMACs match) without
    revealing anything about the key."""
    return hmac.new(key, b"portico-export key check v1", hashlib.sha256).hexdigest()[:16]


Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,21}$")]
UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,12}$")]
Millis = Annotated[int, Field(ge=0)]
Json = dict[str, Any]


class Record(BaseModel):
    """Strict: JSON types must match (no "1" for 1), unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)
    # Which row fields refer to which kind (checked against the file and the database).
    references: ClassVar[dict[str, str]] = {}


class Resource(Record):
    id: Id
    name: str = Field(min_length=1)
    indicator: str
    isDefault: bool = False
    accessTokenTtl: int = Field(3600, ge=1, le=86400 * 366)

    @field_validator("indicator")
    @classmethod
    def _absolute_uri(cls, value: str) -> str:
        return rbac.validate_indicator(value)


class Scope(Record):
    references: ClassVar[dict[str, str]] = {"resourceId": "resource"}
    id: Id
    resourceId: Id
    name: str = Field(min_length=1, max_length=256, pattern=r"^\S+$")
    description: str | None = None
    createdAt: Millis


class Role(Record):
    id: Id
    name: str = Field(min_length=1, max_length=128)
    description: str
    type: Literal["User", "MachineToMachine"]
    isDefault: bool = False


class RoleScope(Record):
    references: ClassVar[dict[str, str]] = {"roleId": "role", "scopeId": "scope"}
    roleId: Id
    scopeId: Id


class OidcClientMetadata(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    redirectUris: list[str]
    postLogoutRedirectUris: list[str]


class Application(Record):
    id: Id
    name: str = Field(min_length=1, max_length=256)
    description: str | None = None
    type: Literal["Native", "SPA", "Traditional", "MachineToMachine", "SAML"]
    oidcClientMetadata: OidcClientMetadata
    customClientMetadata: Json = Field(default_factory=dict)
    customData: Json = Field(default_factory=dict)
    isThirdParty: bool = False
    createdAt: Millis

    @field_validator("oidcClientMetadata")
    @classmethod
    def _uris(cls, value: OidcClientMetadata, info: Any) -> OidcClientMetadata:
        app_type = info.data.get("type")
        if app_type is not None:
            kind = applications.AppType(app_type)
            for uri in [*value.redirectUris, *value.postLogoutRedirectUris]:
                applications.validate_redirect_uri(uri, kind)
        return value

    def row(self) -> Json:
        data = self.model_dump()
        data["oidcClientMetadata"] = self.oidcClientMetadata.model_dump()
        return data


class ApplicationSecret(Record):
    references: ClassVar[dict[str, str]] = {"applicationId": "application"}
    applicationId: Id
    name: str = Field(min_length=1, max_length=256)
    valueDigest: str = Field(pattern=r"^[0-9a-f]{64}$")  # SHA-256 of the secret, never the value
    valueHint: str = Field(max_length=8)
    createdAt: Millis
    expiresAt: Millis | None = None
    # client_secret_jwt applications' secrets, sealed with the source's encryption key
    valueSealed: Json | None = None


class ApplicationRole(Record):
    references: ClassVar[dict[str, str]] = {"applicationId": "application", "roleId": "role"}
    applicationId: Id
    roleId: Id


class User(Record):
    id: UserId
    username: str | None = None
    primaryEmail: str | None = None
    primaryPhone: str | None = None
    passwordEncrypted: str | None = Field(None, max_length=256)
    passwordEncryptionMethod: str | None = None
    name: str | None = Field(None, max_length=128)
    avatar: str | None = Field(None, max_length=2048)
    profile: Json = Field(default_factory=dict)
    identities: Json = Field(default_factory=dict)
    customData: Json = Field(default_factory=dict)
    isSuspended: bool = False
    logtoConfig: Json = Field(default_factory=dict)
    lastSignInAt: Millis | None = None
    createdAt: Millis
    updatedAt: Millis

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is not None and not user_rules.USERNAME_RE.match(value):
            raise ValueError("must start with a letter or _ and hold letters, digits, _")
        return value

    @field_validator("primaryEmail")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        canonical = user_rules.normalise_email(value)
        if canonical is None or not user_rules.EMAIL_RE.match(canonical):
            raise ValueError("is not a valid email address")
        return canonical

    @field_validator("primaryPhone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not user_rules.PHONE_RE.match(value):
            raise ValueError("must be digits only, with the country code")
        return value

    @model_validator(mode="after")
    def _password(self) -> User:
        encrypted, method = self.passwordEncrypted, self.passwordEncryptionMethod
        if (encrypted is None) != (method is None):
            raise ValueError("passwordEncrypted and passwordEncryptionMethod go together")
        if encrypted is not None and method is not None:
            passwords.check_stored(encrypted, method)
        return self


class UserRole(Record):
    references: ClassVar[dict[str, str]] = {"userId": "user", "roleId": "role"}
    userId: UserId
    roleId: Id


class PersonalAccessToken(Record):
    """A user's token for token exchange (RFC 8693): its digest, never the value."""

    references: ClassVar[dict[str, str]] = {"userId": "user"}
    userId: UserId
    name: str = Field(min_length=1, max_length=256)
    valueDigest: str = Field(pattern=r"^[0-9a-f]{64}$")
    createdAt: Millis
    expiresAt: Millis | None = None


class Organization(Record):
    id: Id
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(None, max_length=256)
    customData: Json = Field(default_factory=dict)
    isMfaRequired: bool = False
    isTrustedDeviceAllowed: bool = True
    color: Json = Field(default_factory=dict)
    branding: Json = Field(default_factory=dict)
    customCss: str | None = None
    createdAt: Millis


class OrganizationScope(Record):
    id: Id
    name: str = Field(min_length=1, max_length=128, pattern=r"^\S+$")
    description: str | None = Field(None, max_length=256)


class OrganizationRole(Record):
    id: Id
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(None, max_length=256)
    type: Literal["User", "MachineToMachine"] = "User"


class OrganizationRoleScope(Record):
    references: ClassVar[dict[str, str]] = {
        "organizationRoleId": "organizationRole",
        "organizationScopeId": "organizationScope",
    }
    organizationRoleId: Id
    organizationScopeId: Id


class OrganizationRoleResourceScope(Record):
    """An API-resource scope an organization role grants (tokens for ``organization_id``)."""

    references: ClassVar[dict[str, str]] = {
        "organizationRoleId": "organizationRole",
        "scopeId": "scope",
    }
    organizationRoleId: Id
    scopeId: Id


class OrganizationApplication(Record):
    """A machine-to-machine application as a member of an organization."""

    references: ClassVar[dict[str, str]] = {
        "organizationId": "organization",
        "applicationId": "application",
    }
    organizationId: Id
    applicationId: Id


class OrganizationApplicationRole(Record):
    references: ClassVar[dict[str, str]] = {
        "organizationId": "organization",
        "organizationRoleId": "organizationRole",
        "applicationId": "application",
    }
    organizationId: Id
    organizationRoleId: Id
    applicationId: Id


class OrganizationJitEmailDomain(Record):
    references: ClassVar[dict[str, str]] = {"organizationId": "organization"}
    organizationId: Id
    emailDomain: str = Field(min_length=1, max_length=128)


class OrganizationJitRole(Record):
    references: ClassVar[dict[str, str]] = {
        "organizationId": "organization",
        "organizationRoleId": "organizationRole",
    }
    organizationId: Id
    organizationRoleId: Id


class OrganizationInvitation(Record):
    references: ClassVar[dict[str, str]] = {
        "organizationId": "organization",
        "inviterId": "user",
        "acceptedUserId": "user",
    }
    id: Id
    inviterId: UserId | None = None
    invitee: str = Field(min_length=1, max_length=256)
    acceptedUserId: UserId | None = None
    organizationId: Id
    status: Literal["Pending", "Accepted", "Expired", "Revoked"]
    createdAt: Millis
    updatedAt: Millis
    expiresAt: Millis


class OrganizationInvitationRole(Record):
    references: ClassVar[dict[str, str]] = {
        "organizationInvitationId": "organizationInvitation",
        "organizationRoleId": "organizationRole",
    }
    organizationInvitationId: Id
    organizationRoleId: Id


class OrganizationUser(Record):
    references: ClassVar[dict[str, str]] = {"organizationId": "organization", "userId": "user"}
    organizationId: Id
    userId: UserId


class OrganizationUserRole(Record):
    """A member's role in one organization (the membership must come first)."""

    references: ClassVar[dict[str, str]] = {
        "organizationId": "organization",
        "organizationRoleId": "organizationRole",
        "userId": "user",
    }
    organizationId: Id
    organizationRoleId: Id
    userId: UserId


class Connector(Record):
    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    connectorId: str = Field(min_length=1, max_length=128)
    syncProfile: bool = False
    config: Json  # confidential values stay sealed: {"$sealed": "v1.…"}
    metadata: Json = Field(default_factory=dict)
    createdAt: Millis


class Hook(Record):
    """A webhook; its signing key stays sealed (``{"signingKey": {"$sealed": "v1.…"}}``),
    bound to tenant and hook as connector secrets are to theirs."""

    id: Id
    name: str = Field(max_length=256)
    event: str | None = Field(None, max_length=128)
    events: list[str] = Field(default_factory=list, max_length=64)
    config: Json
    signingKey: Json
    enabled: bool = True
    createdAt: Millis

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        from portico.services.webhook_events import HOOK_EVENTS

        unknown = [e for e in events if e not in HOOK_EVENTS]
        if unknown:
            raise ValueError(f"unknown hook events: {', '.join(unknown)}")
        return events

    @field_validator("config")
    @classmethod
    def _has_url(cls, config: Json) -> Json:
        if not isinstance(config.get("url"), str):
            raise ValueError("config.url must be a string")
        return config


class SsoConnector(Record):
    """An enterprise SSO connector; its config's secrets stay sealed, as connectors'."""

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    providerName: str = Field(min_length=1, max_length=128)
    connectorName: str = Field(min_length=1, max_length=128)
    config: Json
    domains: list[str] = Field(default_factory=list)
    branding: Json = Field(default_factory=dict)
    syncProfile: bool = False
    enableTokenStorage: bool = False
    createdAt: Millis


class SsoConnectorIdpInitiatedAuthConfig(Record):
    """A connector's IdP-initiated SAML sign-in settings (its default application)."""

    references: ClassVar[dict[str, str]] = {
        "connectorId": "ssoConnector",
        "defaultApplicationId": "application",
    }
    connectorId: str = Field(min_length=1, max_length=128)
    defaultApplicationId: Id
    redirectUri: str | None = Field(None, max_length=2048)
    authParameters: Json = Field(default_factory=dict)
    autoSendAuthorizationRequest: bool = False
    clientIdpInitiatedAuthCallbackUri: str | None = Field(None, max_length=2048)
    createdAt: Millis


class SamlApplicationConfig(Record):
    """A SAML application's service-provider settings (Portico as the IdP)."""

    references: ClassVar[dict[str, str]] = {"applicationId": "application"}
    applicationId: Id
    attributeMapping: Json = Field(default_factory=dict)
    entityId: str | None = Field(None, max_length=128)
    acsUrl: Json | None = None
    encryption: Json | None = None
    nameIdFormat: str = Field(min_length=1, max_length=128)


class SamlApplicationSecret(Record):
    """A SAML application's signing certificate; its private key stays sealed."""

    references: ClassVar[dict[str, str]] = {"applicationId": "application"}
    id: Id
    applicationId: Id
    privateKey: Json
    certificate: str = Field(min_length=1, max_length=16_384)
    createdAt: Millis
    expiresAt: Millis
    active: bool


class SamlSsoConnectorSigningKey(Record):
    """A key a SAML connector signs its requests with; its private key stays sealed."""

    references: ClassVar[dict[str, str]] = {"ssoConnectorId": "ssoConnector"}
    id: Id
    ssoConnectorId: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    privateKey: Json
    certificate: str = Field(min_length=1, max_length=16_384)
    createdAt: Millis
    expiresAt: Millis
    active: bool


class UserSsoIdentity(Record):
    references: ClassVar[dict[str, str]] = {"userId": "user", "ssoConnectorId": "ssoConnector"}
    id: Id
    userId: UserId
    issuer: str = Field(min_length=1, max_length=256)
    identityId: str = Field(min_length=1, max_length=128)
    detail: Json = Field(default_factory=dict)
    ssoConnectorId: str = Field(min_length=1, max_length=128)
    createdAt: Millis
    updatedAt: Millis


class OrganizationJitSsoConnector(Record):
    references: ClassVar[dict[str, str]] = {
        "organizationId": "organization",
        "ssoConnectorId": "ssoConnector",
    }
    organizationId: Id
    ssoConnectorId: str = Field(min_length=1, max_length=128)


SEALED_VALUE = re.compile(r"^v1\.[A-Za-z0-9_-]+={0,2}$")
FactorType = Literal["Totp", "WebAuthn", "BackupCode"]  # services/mfa.py: STORED


class UserMfaFactor(Record):
    """A user's MFA factor, as stored: a TOTP key stays sealed (``{"key": {"$sealed":
    "v1.…"}}``, bound to the factor's id); a set of backup codes is a factor whose codes
    are ``mfaBackupCode`` records; a WebAuthn credential has its id, RP id and public key."""

    references: ClassVar[dict[str, str]] = {"userId": "user"}
    id: Id
    userId: UserId
    type: FactorType
    name: str | None = Field(None, max_length=128)
    credentialId: str | None = Field(None, max_length=1024, pattern=r"^[A-Za-z0-9_-]+$")
    rpId: str | None = Field(None, max_length=253, pattern=r"^[A-Za-z0-9.-]+$")
    data: Json
    counter: int | None = Field(None, ge=0, le=2**63 - 1)  # TOTP: last step; WebAuthn: count
    createdAt: Millis
    lastUsedAt: Millis | None = None

    @model_validator(mode="after")
    def _shape(self) -> UserMfaFactor:
        webauthn = self.type == "WebAuthn"
        if webauthn and (self.credentialId is None or self.rpId is None):
            raise ValueError("a WebAuthn factor has a credentialId and an rpId")
        if not webauthn and (self.credentialId is not None or self.rpId is not None):
            raise ValueError(f"a {self.type} factor has no credentialId or rpId")
        if self.type == "Totp" and not _sealed_key(self.data):
            raise ValueError(
                'a Totp factor\'s data is {"key": {"$sealed": "v1.…"}}: the key sealed with '
                "the encryption key, as exported (never in clear)"
            )
        if self.type == "BackupCode" and (self.data or self.counter is not None):
            raise ValueError(
                "a BackupCode factor has empty data and no counter (its codes are "
                "mfaBackupCode records)"
            )
        return self


def _sealed_key(data: Json) -> bool:
    key = data.get("key")
    return (
        set(data) == {"key"}
        and isinstance(key, dict)
        and set(key) == {"$sealed"}
        and isinstance(key["$sealed"], str)
        and SEALED_VALUE.match(key["$sealed"]) is not None
    )


class MfaBackupCode(Record):
    """One backup code of a set (a ``BackupCode`` factor): only its HMAC, keyed from the
    encryption key, so it is usable only where that key is."""

    references: ClassVar[dict[str, str]] = {"factorId": "userMfaFactor"}
    factorId: Id
    codeHash: str = Field(pattern=r"^[0-9a-f]{64}$")
    usedAt: Millis | None = None


class CustomPhrase(Record):
    id: Id
    languageTag: str = Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=16)
    translation: Json


@dataclass(frozen=True)
class Kind:
    """A record kind: its name in the file, its model and its table (None: handled apart)."""

    name: str
    model: type[Record] | None
    table: Table | None

    def row_of(self, record: Record, tenant_id: str) -> Json:
        data = record.row() if isinstance(record, Application) else record.model_dump()
        row = {_snake(key): value for key, value in data.items()}
        if self.table is not None and "tenant_id" in self.table.c:  # backup codes: via factor
            row["tenant_id"] = tenant_id
        return row


def data_of(row: Json) -> Json:
    """A stored row as a record's ``data`` (camelCase, without the tenant)."""
    return {_camel(key): value for key, value in row.items() if key != "tenant_id"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# In dependency order: the exporter writes them so, and a reference must point back.
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("resource", Resource, tables.resources),
        Kind("scope", Scope, tables.scopes),
        Kind("role", Role, tables.roles),
        Kind("roleScope", RoleScope, tables.roles_scopes),
        Kind("application", Application, tables.applications),
        Kind("applicationSecret", ApplicationSecret, tables.application_secrets),
        Kind("applicationRole", ApplicationRole, tables.applications_roles),
        Kind("user", User, tables.users),
        Kind("userRole", UserRole, tables.users_roles),
        Kind("personalAccessToken", PersonalAccessToken, tables.personal_access_tokens),
        Kind("userMfaFactor", UserMfaFactor, tables.user_mfa_factors),
        Kind("mfaBackupCode", MfaBackupCode, tables.mfa_backup_codes),
        Kind("organization", Organization, tables.organizations),
        Kind("organizationScope", OrganizationScope, tables.organization_scopes),
        Kind("organizationRole", OrganizationRole, tables.organization_roles),
        Kind(
            "organizationRoleScope",
            OrganizationRoleScope,
            tables.organization_role_scope_relations,
        ),
        Kind("organizationUser", OrganizationUser, tables.organization_user_relations),
        Kind("organizationUserRole", OrganizationUserRole, tables.organization_role_user_relations),
        Kind(
            "organizationRoleResourceScope",
            OrganizationRoleResourceScope,
            tables.organization_role_resource_scope_relations,
        ),
        Kind(
            "organizationApplication",
            OrganizationApplication,
            tables.organization_application_relations,
        ),
        Kind(
            "organizationApplicationRole",
            OrganizationApplicationRole,
            tables.organization_role_application_relations,
        ),
        Kind(
            "organizationJitEmailDomain",
            OrganizationJitEmailDomain,
            tables.organization_jit_email_domains,
        ),
        Kind("organizationJitRole", OrganizationJitRole, tables.organization_jit_roles),
        Kind("organizationInvitation", OrganizationInvitation, tables.organization_invitations),
        Kind(
            "organizationInvitationRole",
            OrganizationInvitationRole,
            tables.organization_invitation_role_relations,
        ),
        Kind("connector", Connector, tables.connectors),
        Kind("ssoConnector", SsoConnector, tables.sso_connectors),
        Kind(
            "ssoConnectorIdpInitiatedAuthConfig",
            SsoConnectorIdpInitiatedAuthConfig,
            tables.sso_connector_idp_initiated_auth_configs,
        ),
        Kind(
            "samlSsoConnectorSigningKey",
            SamlSsoConnectorSigningKey,
            tables.saml_sso_connector_signing_keys,
        ),
        Kind("samlApplicationConfig", SamlApplicationConfig, tables.saml_application_configs),
        Kind("samlApplicationSecret", SamlApplicationSecret, tables.saml_application_secrets),
        Kind("userSsoIdentity", UserSsoIdentity, tables.user_sso_identities),
        Kind(
            "organizationJitSsoConnector",
            OrganizationJitSsoConnector,
            tables.organization_jit_sso_connectors,
        ),
        Kind("hook", Hook, tables.hooks),
        Kind("signInExperience", None, None),
        Kind("customPhrase", CustomPhrase, tables.custom_phrases),
    )
}
