"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21 12:13:10.144520
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "applications",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column(
            "oidc_client_metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "custom_client_metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "custom_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_third_party", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_applications_tenant_id_created_at"),
            ["tenant_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "logto_configs",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_logto_configs")),
    )
    op.create_table(
        "oidc_model_instances",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("model_name", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("consumed_at", sa.BigInteger(), nullable=True),
        sa.Column("grant_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("model_name", "id", name=op.f("pk_oidc_model_instances")),
    )
    with op.batch_alter_table("oidc_model_instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oidc_model_instances_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_oidc_model_instances_grant_id"), ["grant_id"], unique=False
        )

    op.create_table(
        "resources",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("indicator", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("access_token_ttl", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
        sa.UniqueConstraint(
            "tenant_id", "indicator", name=op.f("uq_resources_tenant_id_indicator")
        ),
    )
    op.create_table(
        "roles",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_roles_tenant_id_name")),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "users",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=True),
        sa.Column("primary_email", sa.String(length=128), nullable=True),
        sa.Column("primary_phone", sa.String(length=128), nullable=True),
        sa.Column("password_encrypted", sa.String(length=256), nullable=True),
        sa.Column("password_encryption_method", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("avatar", sa.String(length=2048), nullable=True),
        sa.Column(
            "profile",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "identities",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "custom_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_suspended", sa.Boolean(), nullable=False),
        sa.Column("last_sign_in_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint(
            "tenant_id", "primary_email", name=op.f("uq_users_tenant_id_primary_email")
        ),
        sa.UniqueConstraint(
            "tenant_id", "primary_phone", name=op.f("uq_users_tenant_id_primary_phone")
        ),
        sa.UniqueConstraint("tenant_id", "username", name=op.f("uq_users_tenant_id_username")),
    )
    op.create_table(
        "application_secrets",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("application_id", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("value_digest", sa.String(length=64), nullable=False),
        sa.Column("value_hint", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_secrets_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("application_id", "name", name=op.f("pk_application_secrets")),
    )
    op.create_table(
        "applications_roles",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("application_id", sa.String(length=21), nullable=False),
        sa.Column("role_id", sa.String(length=21), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_applications_roles_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["roles.id"],
            name=op.f("fk_applications_roles_role_id_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("application_id", "role_id", name=op.f("pk_applications_roles")),
    )
    with op.batch_alter_table("applications_roles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_applications_roles_role_id"), ["role_id"], unique=False
        )

    op.create_table(
        "scopes",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("resource_id", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name=op.f("fk_scopes_resource_id_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scopes")),
        sa.UniqueConstraint("resource_id", "name", name=op.f("uq_scopes_resource_id_name")),
    )
    op.create_table(
        "users_roles",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("user_id", sa.String(length=21), nullable=False),
        sa.Column("role_id", sa.String(length=21), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.id"], name=op.f("fk_users_roles_role_id_roles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_users_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "role_id", name=op.f("pk_users_roles")),
    )
    with op.batch_alter_table("users_roles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_roles_role_id"), ["role_id"], unique=False)

    op.create_table(
        "roles_scopes",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("role_id", sa.String(length=21), nullable=False),
        sa.Column("scope_id", sa.String(length=21), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["roles.id"],
            name=op.f("fk_roles_scopes_role_id_roles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scope_id"],
            ["scopes.id"],
            name=op.f("fk_roles_scopes_scope_id_scopes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role_id", "scope_id", name=op.f("pk_roles_scopes")),
    )
    with op.batch_alter_table("roles_scopes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roles_scopes_scope_id"), ["scope_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("roles_scopes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roles_scopes_scope_id"))

    op.drop_table("roles_scopes")
    with op.batch_alter_table("users_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_roles_role_id"))

    op.drop_table("users_roles")
    op.drop_table("scopes")
    with op.batch_alter_table("applications_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applications_roles_role_id"))

    op.drop_table("applications_roles")
    op.drop_table("application_secrets")
    op.drop_table("users")
    op.drop_table("tenants")
    op.drop_table("roles")
    op.drop_table("resources")
    with op.batch_alter_table("oidc_model_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_model_instances_grant_id"))
        batch_op.drop_index(batch_op.f("ix_oidc_model_instances_expires_at"))

    op.drop_table("oidc_model_instances")
    op.drop_table("logto_configs")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applications_tenant_id_created_at"))

    op.drop_table("applications")
