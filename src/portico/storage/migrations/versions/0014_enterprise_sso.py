"""Enterprise SSO and SAML applications (issue 34): SSO connectors, users' SSO identities,
IdP-initiated sign-in settings, JIT provisioning by SSO connector, SAML applications' settings
and signing certificates.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sso_connectors",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("provider_name", sa.String(length=128), nullable=False),
        sa.Column("connector_name", sa.String(length=128), nullable=False),
        sa.Column(
            "config",
            JSON,
            nullable=False,
        ),
        sa.Column(
            "domains",
            JSON,
            nullable=False,
        ),
        sa.Column(
            "branding",
            JSON,
            nullable=False,
        ),
        sa.Column("sync_profile", sa.Boolean(), nullable=False),
        sa.Column("enable_token_storage", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_connectors")),
        sa.UniqueConstraint(
            "tenant_id", "connector_name", name=op.f("uq_sso_connectors_tenant_id_connector_name")
        ),
    )
    op.create_index(
        op.f("ix_sso_connectors_tenant_id_created_at"),
        "sso_connectors",
        ["tenant_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "organization_jit_sso_connectors",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("organization_id", sa.String(length=21), nullable=False),
        sa.Column("sso_connector_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_jit_sso_connectors_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sso_connector_id"],
            ["sso_connectors.id"],
            name=op.f("fk_organization_jit_sso_connectors_sso_connector_id_sso_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "sso_connector_id", name=op.f("pk_organization_jit_sso_connectors")
        ),
    )
    op.create_index(
        op.f("ix_organization_jit_sso_connectors_sso_connector_id"),
        "organization_jit_sso_connectors",
        ["sso_connector_id"],
        unique=False,
    )
    op.create_table(
        "saml_application_configs",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("application_id", sa.String(length=21), nullable=False),
        sa.Column(
            "attribute_mapping",
            JSON,
            nullable=False,
        ),
        sa.Column("entity_id", sa.String(length=128), nullable=True),
        sa.Column(
            "acs_url",
            JSON,
            nullable=True,
        ),
        sa.Column(
            "encryption",
            JSON,
            nullable=True,
        ),
        sa.Column("name_id_format", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_saml_application_configs_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_saml_application_configs")),
    )
    op.create_index(
        op.f("ix_saml_application_configs_tenant_id_entity_id"),
        "saml_application_configs",
        ["tenant_id", "entity_id"],
        unique=False,
    )
    op.create_table(
        "saml_application_secrets",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("application_id", sa.String(length=21), nullable=False),
        sa.Column(
            "private_key",
            JSON,
            nullable=False,
        ),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_saml_application_secrets_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saml_application_secrets")),
    )
    op.create_index(
        op.f("ix_saml_application_secrets_application_id"),
        "saml_application_secrets",
        ["application_id"],
        unique=False,
    )
    op.create_index(
        "saml_application_secrets__unique_active_secret",
        "saml_application_secrets",
        ["tenant_id", "application_id"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "sso_connector_idp_initiated_auth_configs",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("connector_id", sa.String(length=128), nullable=False),
        sa.Column("default_application_id", sa.String(length=21), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=True),
        sa.Column(
            "auth_parameters",
            JSON,
            nullable=False,
        ),
        sa.Column("auto_send_authorization_request", sa.Boolean(), nullable=False),
        sa.Column("client_idp_initiated_auth_callback_uri", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["sso_connectors.id"],
            name=op.f("fk_sso_connector_idp_initiated_auth_configs_connector_id_sso_connectors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["default_application_id"],
            ["applications.id"],
            name=op.f(
                "fk_sso_connector_idp_initiated_auth_configs_default_application_id_applications"
            ),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "connector_id", name=op.f("pk_sso_connector_idp_initiated_auth_configs")
        ),
    )
    op.create_index(
        op.f("ix_sso_connector_idp_initiated_auth_configs_default_application_id"),
        "sso_connector_idp_initiated_auth_configs",
        ["default_application_id"],
        unique=False,
    )
    op.create_table(
        "user_sso_identities",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.Column("issuer", sa.String(length=256), nullable=False),
        sa.Column("identity_id", sa.String(length=128), nullable=False),
        sa.Column(
            "detail",
            JSON,
            nullable=False,
        ),
        sa.Column("sso_connector_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sso_connector_id"],
            ["sso_connectors.id"],
            name=op.f("fk_user_sso_identities_sso_connector_id_sso_connectors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sso_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sso_identities")),
        sa.UniqueConstraint(
            "tenant_id",
            "issuer",
            "identity_id",
            name=op.f("uq_user_sso_identities_tenant_id_issuer_identity_id"),
        ),
    )
    op.create_index(
        op.f("ix_user_sso_identities_sso_connector_id"),
        "user_sso_identities",
        ["sso_connector_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_user_sso_identities_user_id"), "user_sso_identities", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_user_sso_identities_user_id"), table_name="user_sso_identities")
    op.drop_index(op.f("ix_user_sso_identities_sso_connector_id"), table_name="user_sso_identities")
    op.drop_table("user_sso_identities")
    op.drop_index(
        op.f("ix_sso_connector_idp_initiated_auth_configs_default_application_id"),
        table_name="sso_connector_idp_initiated_auth_configs",
    )
    op.drop_table("sso_connector_idp_initiated_auth_configs")
    op.drop_index(
        "saml_application_secrets__unique_active_secret",
        table_name="saml_application_secrets",
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.drop_index(
        op.f("ix_saml_application_secrets_application_id"), table_name="saml_application_secrets"
    )
    op.drop_table("saml_application_secrets")
    op.drop_index(
        op.f("ix_saml_application_configs_tenant_id_entity_id"),
        table_name="saml_application_configs",
    )
    op.drop_table("saml_application_configs")
    op.drop_index(
        op.f("ix_organization_jit_sso_connectors_sso_connector_id"),
        table_name="organization_jit_sso_connectors",
    )
    op.drop_table("organization_jit_sso_connectors")
    op.drop_index(op.f("ix_sso_connectors_tenant_id_created_at"), table_name="sso_connectors")
    op.drop_table("sso_connectors")
