"""Table definitions, shaped like Logto's so that data and scripts carry over.

Every table carries ``tenant_id`` from the first migration, so that several tenants per server
are configuration, not a rewrite. Timestamps are epoch milliseconds (``BigInteger``): that is
the wire format of Logto's API, it compares the same way on SQLite and PostgreSQL, and it
needs no time-zone handling.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")


def _tenant() -> Column[str]:
    return Column("tenant_id", String(21), nullable=False)


tenants = Table(
    "tenants",
    metadata,
    Column("id", String(21), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

logto_configs = Table(
    "logto_configs",
    metadata,
    _tenant(),
    Column("key", String(256), nullable=False),
    Column("value", Json, nullable=False),
    PrimaryKeyConstraint("tenant_id", "key"),
)

applications = Table(
    "applications",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("description", Text),
    Column("type", String(32), nullable=False),
    Column("oidc_client_metadata", Json, nullable=False),
    Column("custom_client_metadata", Json, nullable=False),
    Column("custom_data", Json, nullable=False),
    Column("is_third_party", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "tenant_id", "created_at"),
)

# Logto keeps secret values in clear; Portico keeps a SHA-256 digest (secrets are 190-bit
# random strings, so a fast hash is enough) and the last four characters to tell them apart.
application_secrets = Table(
    "application_secrets",
    metadata,
    _tenant(),
    Column("application_id", String(21), nullable=False),
    Column("name", String(256), nullable=False),
    Column("value_digest", String(64), nullable=False),
    Column("value_hint", String(8), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger),
    # Only for ``client_secret_jwt`` applications (the server must know the HMAC key):
    # the value sealed with the encryption key, bound to the application and secret name.
    Column("value_sealed", Json),
    PrimaryKeyConstraint("application_id", "name"),
    ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
)

users = Table(
    "users",
    metadata,
    _tenant(),
    Column("id", String(12), primary_key=True),
    Column("username", String(128)),
    Column("primary_email", String(128)),
    Column("primary_phone", String(128)),
    Column("password_encrypted", String(256)),
    Column("password_encryption_method", String(32)),
    Column("name", String(128)),
    Column("avatar", String(2048)),
    Column("profile", Json, nullable=False),
    Column("identities", Json, nullable=False),
    Column("custom_data", Json, nullable=False),
    Column("is_suspended", Boolean, nullable=False, default=False),
    # Logto's ``logto_config``: the user's MFA choices (``mfa.enabled``, ``skipped``, ...).
    Column("logto_config", Json, nullable=False, server_default=text("'{}'")),
    Column("last_sign_in_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "username"),
    UniqueConstraint("tenant_id", "primary_email"),
    UniqueConstraint("tenant_id", "primary_phone"),
    Index(None, "tenant_id", "created_at"),  # the Management API lists newest first
)

# A user's MFA factors (Logto keeps them in a JSON array on the user): a row each, so that a
# TOTP step or a WebAuthn signature counter moves by one guarded UPDATE (a replayed code or a
# cloned authenticator loses the race), and a passkey is found by its credential id.
user_mfa_factors = Table(
    "user_mfa_factors",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("user_id", String(12), nullable=False),
    Column("type", String(32), nullable=False),  # Totp, WebAuthn, BackupCode
    Column("name", String(128)),  # WebAuthn: the user's name for the authenticator
    Column("credential_id", String(1024)),  # WebAuthn, base64url
    Column("rp_id", String(253)),  # WebAuthn
    # Totp: the sealed key; WebAuthn: publicKey, transports, agent.
    Column("data", Json, nullable=False),
    # Totp: the last accepted time step; WebAuthn: the signature counter.
    Column("counter", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    Index(None, "user_id"),
    UniqueConstraint("tenant_id", "credential_id"),
)

# A user's personal access tokens (Logto's ``personal_access_tokens``), kept as digests: the
# value is shown once, at creation (Logto lists it).
personal_access_tokens = Table(
    "personal_access_tokens",
    metadata,
    _tenant(),
    Column("user_id", String(12), nullable=False),
    Column("name", String(256), nullable=False),
    Column("value_digest", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger),
    PrimaryKeyConstraint("tenant_id", "user_id", "name"),
    UniqueConstraint("value_digest"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)

# Backup codes, a row each and only as an HMAC (Logto stores them in clear): a code is spent
# by ``UPDATE … WHERE used_at IS NULL``, so two parallel uses cannot both succeed.
mfa_backup_codes = Table(
    "mfa_backup_codes",
    metadata,
    Column("factor_id", String(21), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", BigInteger),
    PrimaryKeyConstraint("factor_id", "code_hash"),
    ForeignKeyConstraint(["factor_id"], ["user_mfa_factors.id"], ondelete="CASCADE"),
)

# The index of ``users.identities`` (Logto keeps only the JSON column): one row per social
# identity, so that "who is kakao:1234?" is one indexed lookup and two parallel first sign-ins
# with the same provider account cannot create two users (the primary key refuses the second).
user_identities = Table(
    "user_identities",
    metadata,
    _tenant(),
    Column("target", String(128), nullable=False),
    Column("identity_id", String(256), nullable=False),
    Column("user_id", String(12), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "target", "identity_id"),
    UniqueConstraint("tenant_id", "user_id", "target"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)

resources = Table(
    "resources",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("name", Text, nullable=False),
    Column("indicator", Text, nullable=False),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("access_token_ttl", BigInteger, nullable=False, default=3600),
    UniqueConstraint("tenant_id", "indicator"),
)

scopes = Table(
    "scopes",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("resource_id", String(21), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("resource_id", "name"),
    ForeignKeyConstraint(["resource_id"], ["resources.id"], ondelete="CASCADE"),
)

roles = Table(
    "roles",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False),
    Column("type", String(32), nullable=False),
    Column("is_default", Boolean, nullable=False, default=False),
    UniqueConstraint("tenant_id", "name"),
)


def _relation(name: str, left: str, left_table: str) -> Table:
    return Table(
        name,
        metadata,
        _tenant(),
        Column(left, String(21), nullable=False),
        Column("role_id", String(21), nullable=False),
        PrimaryKeyConstraint(left, "role_id"),
        ForeignKeyConstraint([left], [f"{left_table}.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["role_id"], ["roles.id"], ondelete="CASCADE"),
        Index(None, "role_id"),
    )


users_roles = _relation("users_roles", "user_id", "users")
applications_roles = _relation("applications_roles", "application_id", "applications")

roles_scopes = Table(
    "roles_scopes",
    metadata,
    _tenant(),
    Column("role_id", String(21), nullable=False),
    Column("scope_id", String(21), nullable=False),
    PrimaryKeyConstraint("role_id", "scope_id"),
    ForeignKeyConstraint(["role_id"], ["roles.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["scope_id"], ["scopes.id"], ondelete="CASCADE"),
    Index(None, "scope_id"),
)

# Short-lived protocol artifacts (authorization codes, tokens, grants, sessions, interactions),
# as Logto's ``oidc_model_instances``. ``id`` is the SHA-256 of the secret value for anything a
# client or browser presents, so a database leak does not leak usable tokens.
oidc_model_instances = Table(
    "oidc_model_instances",
    metadata,
    _tenant(),
    Column("model_name", String(64), nullable=False),
    Column("id", String(128), nullable=False),
    Column("payload", Json, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("consumed_at", BigInteger),
    Column("grant_id", String(64)),
    PrimaryKeyConstraint("model_name", "id"),
    Index(None, "grant_id"),
    Index(None, "expires_at"),
)

# The sign-in experience of a tenant (Logto's ``sign_in_experiences``, one row ``default``).
# JSON columns hold Logto's JSON shapes verbatim so that the API returns them unchanged.
sign_in_experiences = Table(
    "sign_in_experiences",
    metadata,
    _tenant(),
    Column("id", String(21), nullable=False),
    Column("color", Json, nullable=False),
    Column("branding", Json, nullable=False),
    Column("hide_logto_branding", Boolean, nullable=False, default=False),
    Column("language_info", Json, nullable=False),
    Column("terms_of_use_url", String(2048)),
    Column("privacy_policy_url", String(2048)),
    Column("agree_to_terms_policy", String(32), nullable=False),
    Column("sign_up", Json, nullable=False),
    Column("sign_in", Json, nullable=False),
    Column("social_sign_in", Json, nullable=False),
    Column("social_sign_in_connector_targets", Json, nullable=False),
    Column("sign_in_mode", String(32), nullable=False),
    Column("custom_css", Text),
    Column("custom_content", Json, nullable=False),
    Column("password_policy", Json, nullable=False),
    Column("username_policy", Json, nullable=False),
    Column("mfa", Json, nullable=False),
    Column("adaptive_mfa", Json, nullable=False, server_default=text("'{}'")),
    Column("passkey_sign_in", Json, nullable=False, server_default=text("'{}'")),
    Column("trusted_device", Json, nullable=False, server_default=text("'{}'")),
    Column("single_sign_on_enabled", Boolean, nullable=False, default=False),
    Column("support_email", Text),
    Column("support_website_url", Text),
    Column("unknown_session_redirect_url", Text),
    Column("sentinel_policy", Json, nullable=False),
    Column("verification_code_policy", Json, nullable=False),
    Column("forgot_password_methods", Json, nullable=False),
    Column("email_blocklist_policy", Json, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
)

# Per-tenant overrides of the pages' phrases (Logto's ``custom_phrases``).
custom_phrases = Table(
    "custom_phrases",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("language_tag", String(16), nullable=False),
    Column("translation", Json, nullable=False),
    UniqueConstraint("tenant_id", "language_tag"),
)

# One-time verification codes (Logto's ``passcodes``). ``code`` holds a keyed digest, never
# the code; ``try_count`` is raised with a guarded UPDATE so parallel guesses cannot pass the
# limit; ``interaction_jti`` binds a code to the sign-in interaction that asked for it.
passcodes = Table(
    "passcodes",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("interaction_jti", String(128)),
    Column("phone", String(128)),
    Column("email", String(128)),
    Column("type", String(32), nullable=False),
    Column("code", String(128), nullable=False),
    Column("consumed", Boolean, nullable=False, default=False),
    Column("try_count", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index(None, "tenant_id", "interaction_jti", "type"),
    Index(None, "tenant_id", "email", "type"),
    Index(None, "tenant_id", "phone", "type"),
    Index(None, "expires_at"),
)

# Security events counted against a target (Logto's ``sentinel_activities``): failed
# verifications per account (lockout) and messages sent per recipient (rate limit).
# ``target_hash`` is a digest of the identifier, so the table holds no addresses.
sentinel_activities = Table(
    "sentinel_activities",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("target_type", String(32), nullable=False),
    Column("target_hash", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("action_result", String(16), nullable=False),
    Column("payload", Json, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("decision_expires_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(
        "ix_sentinel_activities_target",
        "tenant_id",
        "target_type",
        "target_hash",
        "action",
        "created_at",
    ),
    Index(None, "created_at"),
)

# Connectors configured by the admin (Logto's ``connectors``): ``connector_id`` is the factory
# id; confidential config values are encrypted (``connectors/secrets.py``) before they land here.
connectors = Table(
    "connectors",
    metadata,
    _tenant(),
    Column("id", String(128), primary_key=True),
    Column("sync_profile", Boolean, nullable=False, default=False),
    Column("connector_id", String(128), nullable=False),
    Column("config", Json, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "tenant_id", "connector_id"),
)

# Audit log (Logto's ``logs``): ``key`` such as ``ExchangeTokenBy.AuthorizationCode`` and a JSON
# ``payload`` (result, ip, userAgent, userId, applicationId, error...). ``user_id`` and
# ``application_id`` repeat the payload's so that both databases can filter on an index.
logs = Table(
    "logs",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("key", String(128), nullable=False),
    Column("payload", Json, nullable=False),
    Column("user_id", String(128)),
    Column("application_id", String(128)),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "tenant_id", "created_at", "id"),
    Index(None, "tenant_id", "key"),
    Index(None, "tenant_id", "user_id"),
    Index(None, "tenant_id", "application_id"),
    Index(None, "created_at"),  # the retention purge (migration 0007)
)

# Organizations (Logto's RFC 0001): one template of organization roles and scopes shared by
# every organization; a user's roles are per organization. A role assignment references the
# membership, so leaving an organization drops the roles held in it.
organizations = Table(
    "organizations",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("description", String(256)),
    Column("custom_data", Json, nullable=False),
    Column("is_mfa_required", Boolean, nullable=False, default=False),
    Column("is_trusted_device_allowed", Boolean, nullable=False, default=True),
    # Logto's PartialColor ({primaryColor, isDarkModeEnabled, darkPrimaryColor}) and Branding
    # ({logoUrl, darkLogoUrl, favicon, darkFavicon}): the hosted pages use them over the sign-in
    # experience's when the authorization request names the organization.
    Column("color", Json, nullable=False, default=dict),
    Column("branding", Json, nullable=False, default=dict),
    Column("custom_css", Text),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "tenant_id", "created_at"),
)

organization_roles = Table(
    "organization_roles",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("description", String(256)),
    Column("type", String(32), nullable=False, default="User"),
    UniqueConstraint("tenant_id", "name"),
)

organization_scopes = Table(
    "organization_scopes",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("description", String(256)),
    UniqueConstraint("tenant_id", "name"),
)

organization_role_scope_relations = Table(
    "organization_role_scope_relations",
    metadata,
    _tenant(),
    Column("organization_role_id", String(21), nullable=False),
    Column("organization_scope_id", String(21), nullable=False),
    PrimaryKeyConstraint("organization_role_id", "organization_scope_id"),
    ForeignKeyConstraint(["organization_role_id"], ["organization_roles.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["organization_scope_id"], ["organization_scopes.id"], ondelete="CASCADE"),
    Index(None, "organization_scope_id"),
)

organization_user_relations = Table(
    "organization_user_relations",
    metadata,
    _tenant(),
    Column("organization_id", String(21), nullable=False),
    Column("user_id", String(12), nullable=False),
    PrimaryKeyConstraint("organization_id", "user_id"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    Index(None, "user_id"),
)

organization_role_user_relations = Table(
    "organization_role_user_relations",
    metadata,
    _tenant(),
    Column("organization_id", String(21), nullable=False),
    Column("organization_role_id", String(21), nullable=False),
    Column("user_id", String(12), nullable=False),
    PrimaryKeyConstraint("organization_id", "organization_role_id", "user_id"),
    ForeignKeyConstraint(
        ["organization_id", "user_id"],
        ["organization_user_relations.organization_id", "organization_user_relations.user_id"],
        ondelete="CASCADE",
    ),
    ForeignKeyConstraint(["organization_role_id"], ["organization_roles.id"], ondelete="CASCADE"),
    Index(None, "organization_role_id"),
    Index(None, "user_id", "organization_id"),
)

# What an organization role grants beyond organization scopes: API-resource scopes, for
# tokens of an API resource within one organization (``organization_id`` + ``resource``).
organization_role_resource_scope_relations = Table(
    "organization_role_resource_scope_relations",
    metadata,
    _tenant(),
    Column("organization_role_id", String(21), nullable=False),
    Column("scope_id", String(21), nullable=False),
    PrimaryKeyConstraint("organization_role_id", "scope_id"),
    ForeignKeyConstraint(["organization_role_id"], ["organization_roles.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["scope_id"], ["scopes.id"], ondelete="CASCADE"),
    Index(None, "scope_id"),
)

# Machine-to-machine applications as organization members, and their organization roles
# (the role assignment references the membership, as for users).
organization_application_relations = Table(
    "organization_application_relations",
    metadata,
    _tenant(),
    Column("organization_id", String(21), nullable=False),
    Column("application_id", String(21), nullable=False),
    PrimaryKeyConstraint("organization_id", "application_id"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
    Index(None, "application_id"),
)

organization_role_application_relations = Table(
    "organization_role_application_relations",
    metadata,
    _tenant(),
    Column("organization_id", String(21), nullable=False),
    Column("organization_role_id", String(21), nullable=False),
    Column("application_id", String(21), nullable=False),
    PrimaryKeyConstraint("organization_id", "organization_role_id", "application_id"),
    ForeignKeyConstraint(
        ["organization_id", "application_id"],
        [
            "organization_application_relations.organization_id",
            "organization_application_relations.application_id",
        ],
        ondelete="CASCADE",
    ),
    ForeignKeyConstraint(["organization_role_id"], ["organization_roles.id"], ondelete="CASCADE"),
    Index(None, "organization_role_id"),
    Index(None, "application_id", "organization_id"),
)

# Invitations (Logto's RFC 0003): one pending invitation per invitee and organization (a
# partial unique index); the roles the invitee gets on acceptance.
organization_invitations = Table(
    "organization_invitations",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("inviter_id", String(12)),
    Column("invitee", String(256), nullable=False),
    Column("accepted_user_id", String(12)),
    Column("organization_id", String(21), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["inviter_id"], ["users.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["accepted_user_id"], ["users.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    Index(None, "tenant_id", "organization_id", "created_at"),
    Index(None, "tenant_id", "invitee"),
    Index(
        "organization_invitations__invitee_organization_id",
        "tenant_id",
        "invitee",
        "organization_id",
        unique=True,
        sqlite_where=text("status = 'Pending'"),
        postgresql_where=text("status = 'Pending'"),
    ),
)

organization_invitation_role_relations = Table(
    "organization_invitation_role_relations",
    metadata,
    _tenant(),
    Column("organization_invitation_id", String(21), nullable=False),
    Column("organization_role_id", String(21), nullable=False),
    PrimaryKeyConstraint("organization_invitation_id", "organization_role_id"),
    ForeignKeyConstraint(
        ["organization_invitation_id"], ["organization_invitations.id"], ondelete="CASCADE"
    ),
    ForeignKeyConstraint(["organization_role_id"], ["organization_roles.id"], ondelete="CASCADE"),
    Index(None, "organization_role_id"),
)

# Just-in-time provisioning: users with a verified email of these domains join the
# organization (with the default roles below) when they sign up or sign in.
organization_jit_email_domains = Table(
    "organization_jit_email_domains",
    metadata,
    _tenant(),
    Column("organization_id", String(21), nullable=False),
    Column("email_domain", String(128), nullable=False),
    PrimaryKeyConstraint("organization_id", "email_domain"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    Index(None, "tenant_id", "email_domain"),
)

organization_jit_roles = Table(
    "organization_jit_roles",
    metadata,
    _tenant(),
    Column("organization_id", String(21), nullable=False),
    Column("organization_role_id", String(21), nullable=False),
    PrimaryKeyConstraint("organization_id", "organization_role_id"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["organization_role_id"], ["organization_roles.id"], ondelete="CASCADE"),
    Index(None, "organization_role_id"),
)

# Enterprise SSO (issue 34): connectors to an organization's identity provider (OIDC or SAML,
# Logto's provider names), the identities users have there, IdP-initiated sign-in settings,
# and JIT provisioning by connector. Sessions and SAML requests in flight are artifacts.
sso_connectors = Table(
    "sso_connectors",
    metadata,
    _tenant(),
    Column("id", String(128), primary_key=True),
    Column("provider_name", String(128), nullable=False),
    Column("connector_name", String(128), nullable=False),
    Column("config", Json, nullable=False),  # secrets in it are sealed
    Column("domains", Json, nullable=False),
    Column("branding", Json, nullable=False),
    Column("sync_profile", Boolean, nullable=False, default=False),
    Column("enable_token_storage", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "connector_name"),
    Index(None, "tenant_id", "created_at"),
)

user_sso_identities = Table(
    "user_sso_identities",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("user_id", String(12), nullable=False),
    Column("issuer", String(256), nullable=False),  # the OIDC issuer or the SAML entity ID
    Column("identity_id", String(128), nullable=False),
    Column("detail", Json, nullable=False),
    Column("sso_connector_id", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "issuer", "identity_id"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["sso_connector_id"], ["sso_connectors.id"], ondelete="CASCADE"),
    Index(None, "user_id"),
    Index(None, "sso_connector_id"),
)

sso_connector_idp_initiated_auth_configs = Table(
    "sso_connector_idp_initiated_auth_configs",
    metadata,
    _tenant(),
    Column("connector_id", String(128), primary_key=True),
    Column("default_application_id", String(21), nullable=False),
    Column("redirect_uri", Text),
    Column("auth_parameters", Json, nullable=False),
    Column("auto_send_authorization_request", Boolean, nullable=False, default=False),
    Column("client_idp_initiated_auth_callback_uri", Text),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["connector_id"], ["sso_connectors.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["default_application_id"], ["applications.id"], ondelete="CASCADE"),
    Index(None, "default_application_id"),
)

organization_jit_sso_connectors = Table(
    "organization_jit_sso_connectors",
    metadata,
    _tenant(),
    Column("organization_id", String(21), nullable=False),
    Column("sso_connector_id", String(128), nullable=False),
    PrimaryKeyConstraint("organization_id", "sso_connector_id"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["sso_connector_id"], ["sso_connectors.id"], ondelete="CASCADE"),
    Index(None, "sso_connector_id"),
)

# The keys Portico signs a SAML connector's AuthnRequests with (``signAuthnRequest``): one
# active at a time, the private key sealed with the encryption key.
saml_sso_connector_signing_keys = Table(
    "saml_sso_connector_signing_keys",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("sso_connector_id", String(128), nullable=False),
    Column("private_key", Json, nullable=False),  # sealed
    Column("certificate", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
    ForeignKeyConstraint(["sso_connector_id"], ["sso_connectors.id"], ondelete="CASCADE"),
    Index(None, "sso_connector_id"),
    Index(
        "saml_sso_connector_signing_keys__unique_active",
        "tenant_id",
        "sso_connector_id",
        unique=True,
        sqlite_where=text("active"),
        postgresql_where=text("active"),
    ),
)

# SAML applications (Portico as the identity provider): their SP settings and signing
# certificates (one active at a time; the private key sealed with the encryption key).
saml_application_configs = Table(
    "saml_application_configs",
    metadata,
    _tenant(),
    Column("application_id", String(21), primary_key=True),
    Column("attribute_mapping", Json, nullable=False),
    Column("entity_id", String(128)),
    Column("acs_url", Json),
    Column("encryption", Json),
    Column("name_id_format", String(128), nullable=False),
    ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
    Index(None, "tenant_id", "entity_id"),
)

saml_application_secrets = Table(
    "saml_application_secrets",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("application_id", String(21), nullable=False),
    Column("private_key", Json, nullable=False),  # sealed
    Column("certificate", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
    ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
    Index(None, "application_id"),
    Index(
        "saml_application_secrets__unique_active_secret",
        "tenant_id",
        "application_id",
        unique=True,
        sqlite_where=text("active"),
        postgresql_where=text("active"),
    ),
)

# Remembered consent (third-party applications): what a user allowed one application, so the
# consent page is shown again only when a request asks for more (or ``prompt=consent``).
# Logto keeps this in its oidc Grant; a row here outlives sessions and tokens.
application_user_consents = Table(
    "application_user_consents",
    metadata,
    _tenant(),
    Column("application_id", String(21), nullable=False),
    Column("user_id", String(12), nullable=False),
    Column("scopes", Json, nullable=False),
    Column("resources", Json, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("application_id", "user_id"),
    ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    Index(None, "user_id"),
)

# The organizations a user granted to a third-party application (Logto's table of this name).
# It references the membership: leaving the organization withdraws the grant.
application_user_consent_organizations = Table(
    "application_user_consent_organizations",
    metadata,
    _tenant(),
    Column("application_id", String(21), nullable=False),
    Column("user_id", String(12), nullable=False),
    Column("organization_id", String(21), nullable=False),
    PrimaryKeyConstraint("application_id", "user_id", "organization_id"),
    ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(
        ["organization_id", "user_id"],
        ["organization_user_relations.organization_id", "organization_user_relations.user_id"],
        ondelete="CASCADE",
    ),
    Index(None, "user_id", "organization_id"),
)

# Webhooks (issue 35): Logto's ``hooks`` (the signing key sealed with the encryption key,
# bound to the hook, as connector secrets are) and the outbox of deliveries. A delivery row
# is written in the transaction of the change it reports, so an event is neither lost by a
# crash nor sent for a change that rolled back; workers lease due rows to deliver them.
hooks = Table(
    "hooks",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),
    Column("name", String(256), nullable=False, server_default=""),
    Column("event", String(128)),  # Logto's original single event, kept for old clients
    Column("events", Json, nullable=False),
    Column("config", Json, nullable=False),
    Column("signing_key", Json, nullable=False),  # sealed {"signingKey": {"$sealed": ...}}
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "tenant_id", "created_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _tenant(),
    Column("id", String(21), primary_key=True),  # also the receiver's idempotency key
    Column("hook_id", String(21), nullable=False),
    Column("event", String(128), nullable=False),
    Column("payload", Json, nullable=False),
    Column("status", String(16), nullable=False),  # Pending, Succeeded, Failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", BigInteger),
    Column("last_status", Integer),
    Column("last_duration_ms", Integer),
    Column("last_error", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["hook_id"], ["hooks.id"], ondelete="CASCADE"),
    Index(None, "status", "next_attempt_at"),  # the workers' "due" query
    Index(None, "hook_id", "status", "lease_expires_at"),  # deliveries in flight per hook
)

__all__ = [
    "application_secrets",
    "application_user_consent_organizations",
    "application_user_consents",
    "applications",
    "applications_roles",
    "connectors",
    "custom_phrases",
    "logs",
    "logto_configs",
    "metadata",
    "oidc_model_instances",
    "organization_role_scope_relations",
    "organization_role_user_relations",
    "organization_roles",
    "organization_scopes",
    "organization_user_relations",
    "organizations",
    "passcodes",
    "resources",
    "roles",
    "roles_scopes",
    "scopes",
    "sentinel_activities",
    "sign_in_experiences",
    "tenants",
    "user_identities",
    "users",
    "users_roles",
]
