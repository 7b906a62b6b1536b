"""organizations (members, organization roles and scopes), remembered consent of third-party apps

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 14:34:53
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organization_roles",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_roles")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_organization_roles_tenant_id_name")),
    )
    op.create_table(
        "organization_scopes",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_scopes")),
        sa.UniqueConstraint(
            "tenant_id", "name", name=op.f("uq_organization_scopes_tenant_id_name")
        ),
    )
    op.create_table(
        "organizations",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=True),
        sa.Column(
            "custom_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_mfa_required", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organizations_tenant_id_created_at"),
            ["tenant_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "application_user_consents",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("application_id", sa.String(length=21), nullable=False),
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "resources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_user_consents_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_application_user_consents_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "application_id", "user_id", name=op.f("pk_application_user_consents")
        ),
    )
    with op.batch_alter_table("application_user_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_user_consents_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "organization_role_scope_relations",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("organization_role_id", sa.String(length=21), nullable=False),
        sa.Column("organization_scope_id", sa.String(length=21), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_role_id"],
            ["organization_roles.id"],
            name=op.f(
                "fk_organization_role_scope_relations_organization_role_id_organization_roles"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_scope_id"],
            ["organization_scopes.id"],
            name=op.f(
                "fk_organization_role_scope_relations_organization_scope_id_organization_scopes"
            ),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_role_id",
            "organization_scope_id",
            name=op.f("pk_organization_role_scope_relations"),
        ),
    )
    with op.batch_alter_table("organization_role_scope_relations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organization_role_scope_relations_organization_scope_id"),
            ["organization_scope_id"],
            unique=False,
        )

    op.create_table(
        "organization_user_relations",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("organization_id", sa.String(length=21), nullable=False),
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_user_relations_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_organization_user_relations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "user_id", name=op.f("pk_organization_user_relations")
        ),
    )
    with op.batch_alter_table("organization_user_relations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organization_user_relations_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "application_user_consent_organizations",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("application_id", sa.String(length=21), nullable=False),
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.Column("organization_id", sa.String(length=21), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_user_consent_organizations_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id", "user_id"],
            ["organization_user_relations.organization_id", "organization_user_relations.user_id"],
            name=op.f(
                "fk_application_user_consent_organizations_organization_id_organization_user_relations"
            ),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "application_id",
            "user_id",
            "organization_id",
            name=op.f("pk_application_user_consent_organizations"),
        ),
    )
    with op.batch_alter_table("application_user_consent_organizations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_user_consent_organizations_user_id_organization_id"),
            ["user_id", "organization_id"],
            unique=False,
        )

    op.create_table(
        "organization_role_user_relations",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("organization_id", sa.String(length=21), nullable=False),
        sa.Column("organization_role_id", sa.String(length=21), nullable=False),
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id", "user_id"],
            ["organization_user_relations.organization_id", "organization_user_relations.user_id"],
            name=op.f(
                "fk_organization_role_user_relations_organization_id_organization_user_relations"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_role_id"],
            ["organization_roles.id"],
            name=op.f(
                "fk_organization_role_user_relations_organization_role_id_organization_roles"
            ),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id",
            "organization_role_id",
            "user_id",
            name=op.f("pk_organization_role_user_relations"),
        ),
    )
    with op.batch_alter_table("organization_role_user_relations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organization_role_user_relations_organization_role_id"),
            ["organization_role_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_organization_role_user_relations_user_id_organization_id"),
            ["user_id", "organization_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("organization_role_user_relations", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_organization_role_user_relations_user_id_organization_id")
        )
        batch_op.drop_index(batch_op.f("ix_organization_role_user_relations_organization_role_id"))

    op.drop_table("organization_role_user_relations")
    with op.batch_alter_table("application_user_consent_organizations", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_application_user_consent_organizations_user_id_organization_id")
        )

    op.drop_table("application_user_consent_organizations")
    with op.batch_alter_table("organization_user_relations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organization_user_relations_user_id"))

    op.drop_table("organization_user_relations")
    with op.batch_alter_table("organization_role_scope_relations", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_organization_role_scope_relations_organization_scope_id")
        )

    op.drop_table("organization_role_scope_relations")
    with op.batch_alter_table("application_user_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_user_consents_user_id"))

    op.drop_table("application_user_consents")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organizations_tenant_id_created_at"))

    op.drop_table("organizations")
    op.drop_table("organization_scopes")
    op.drop_table("organization_roles")
