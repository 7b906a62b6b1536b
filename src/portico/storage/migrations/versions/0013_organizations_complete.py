"""Organizations, complete (issue 33): organization roles' API-resource scopes, applications
as members with organization roles, invitations and their roles, just-in-time provisioning by
email domain with default roles; organizations gain Logto's branding, colour, custom CSS and
trusted-device switch.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(
            sa.Column(
                "is_trusted_device_allowed", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
        batch.add_column(sa.Column("color", JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("branding", JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("custom_css", sa.Text(), nullable=True))
    op.create_table(
        "organization_application_relations",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("organization_id", sa.String(length=21), nullable=False),
        sa.Column("application_id", sa.String(length=21), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_organization_application_relations_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_application_relations_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "application_id", name=op.f("pk_organization_application_relations")
        ),
    )
    op.create_index(
        op.f("ix_organization_application_relations_application_id"),
        "organization_application_relations",
        ["application_id"],
        unique=False,
    )
    op.create_table(
        "organization_invitations",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("inviter_id", sa.String(length=12), nullable=True),
        sa.Column("invitee", sa.String(length=256), nullable=False),
        sa.Column("accepted_user_id", sa.String(length=12), nullable=True),
        sa.Column("organization_id", sa.String(length=21), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["accepted_user_id"],
            ["users.id"],
            name=op.f("fk_organization_invitations_accepted_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["inviter_id"],
            ["users.id"],
            name=op.f("fk_organization_invitations_inviter_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_invitations_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_invitations")),
    )
    op.create_index(
        op.f("ix_organization_invitations_tenant_id_invitee"),
        "organization_invitations",
        ["tenant_id", "invitee"],
        unique=False,
    )
    op.create_index(
        op.f("ix_organization_invitations_tenant_id_organization_id_created_at"),
        "organization_invitations",
        ["tenant_id", "organization_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "organization_invitations__invitee_organization_id",
        "organization_invitations",
        ["tenant_id", "invitee", "organization_id"],
        unique=True,
        sqlite_where=sa.text("status = 'Pending'"),
        postgresql_where=sa.text("status = 'Pending'"),
    )
    op.create_table(
        "organization_jit_email_domains",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("organization_id", sa.String(length=21), nullable=False),
        sa.Column("email_domain", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_jit_email_domains_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "email_domain", name=op.f("pk_organization_jit_email_domains")
        ),
    )
    op.create_index(
        op.f("ix_organization_jit_email_domains_tenant_id_email_domain"),
        "organization_jit_email_domains",
        ["tenant_id", "email_domain"],
        unique=False,
    )
    op.create_table(
        "organization_jit_roles",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("organization_id", sa.String(length=21), nullable=False),
        sa.Column("organization_role_id", sa.String(length=21), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_jit_roles_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_role_id"],
            ["organization_roles.id"],
            name=op.f("fk_organization_jit_roles_organization_role_id_organization_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "organization_role_id", name=op.f("pk_organization_jit_roles")
        ),
    )
    op.create_index(
        op.f("ix_organization_jit_roles_organization_role_id"),
        "organization_jit_roles",
        ["organization_role_id"],
        unique=False,
    )
    op.create_table(
        "organization_invitation_role_relations",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("organization_invitation_id", sa.String(length=21), nullable=False),
        sa.Column("organization_role_id", sa.String(length=21), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_invitation_id"],
            ["organization_invitations.id"],
            name=op.f(
                "fk_organization_invitation_role_relations_organization_invitation_id_organization_invitations"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_role_id"],
            ["organization_roles.id"],
            name=op.f(
                "fk_organization_invitation_role_relations_organization_role_id_organization_roles"
            ),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_invitation_id",
            "organization_role_id",
            name=op.f("pk_organization_invitation_role_relations"),
        ),
    )
    op.create_index(
        op.f("ix_organization_invitation_role_relations_organization_role_id"),
        "organization_invitation_role_relations",
        ["organization_role_id"],
        unique=False,
    )
    op.create_table(
        "organization_role_application_relations",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("organization_id", sa.String(length=21), nullable=False),
        sa.Column("organization_role_id", sa.String(length=21), nullable=False),
        sa.Column("application_id", sa.String(length=21), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id", "application_id"],
            [
                "organization_application_relations.organization_id",
                "organization_application_relations.application_id",
            ],
            name=op.f(
                "fk_organization_role_application_relations_organization_id_organization_application_relations"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_role_id"],
            ["organization_roles.id"],
            name=op.f(
                "fk_organization_role_application_relations_organization_role_id_organization_roles"
            ),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id",
            "organization_role_id",
            "application_id",
            name=op.f("pk_organization_role_application_relations"),
        ),
    )
    op.create_index(
        op.f("ix_organization_role_application_relations_application_id_organization_id"),
        "organization_role_application_relations",
        ["application_id", "organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_organization_role_application_relations_organization_role_id"),
        "organization_role_application_relations",
        ["organization_role_id"],
        unique=False,
    )
    op.create_table(
        "organization_role_resource_scope_relations",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("organization_role_id", sa.String(length=21), nullable=False),
        sa.Column("scope_id", sa.String(length=21), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_role_id"],
            ["organization_roles.id"],
            name=op.f(
                "fk_organization_role_resource_scope_relations_organization_role_id_organization_roles"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scope_id"],
            ["scopes.id"],
            name=op.f("fk_organization_role_resource_scope_relations_scope_id_scopes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_role_id",
            "scope_id",
            name=op.f("pk_organization_role_resource_scope_relations"),
        ),
    )
    op.create_index(
        op.f("ix_organization_role_resource_scope_relations_scope_id"),
        "organization_role_resource_scope_relations",
        ["scope_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_organization_role_resource_scope_relations_scope_id"),
        table_name="organization_role_resource_scope_relations",
    )
    op.drop_table("organization_role_resource_scope_relations")
    op.drop_index(
        op.f("ix_organization_role_application_relations_organization_role_id"),
        table_name="organization_role_application_relations",
    )
    op.drop_index(
        op.f("ix_organization_role_application_relations_application_id_organization_id"),
        table_name="organization_role_application_relations",
    )
    op.drop_table("organization_role_application_relations")
    op.drop_index(
        op.f("ix_organization_invitation_role_relations_organization_role_id"),
        table_name="organization_invitation_role_relations",
    )
    op.drop_table("organization_invitation_role_relations")
    op.drop_index(
        op.f("ix_organization_jit_roles_organization_role_id"), table_name="organization_jit_roles"
    )
    op.drop_table("organization_jit_roles")
    op.drop_index(
        op.f("ix_organization_jit_email_domains_tenant_id_email_domain"),
        table_name="organization_jit_email_domains",
    )
    op.drop_table("organization_jit_email_domains")
    op.drop_index(
        "organization_invitations__invitee_organization_id",
        table_name="organization_invitations",
        sqlite_where=sa.text("status = 'Pending'"),
        postgresql_where=sa.text("status = 'Pending'"),
    )
    op.drop_index(
        op.f("ix_organization_invitations_tenant_id_organization_id_created_at"),
        table_name="organization_invitations",
    )
    op.drop_index(
        op.f("ix_organization_invitations_tenant_id_invitee"), table_name="organization_invitations"
    )
    op.drop_table("organization_invitations")
    op.drop_index(
        op.f("ix_organization_application_relations_application_id"),
        table_name="organization_application_relations",
    )
    op.drop_table("organization_application_relations")
    with op.batch_alter_table("organizations") as batch:
        for column in ("custom_css", "branding", "color", "is_trusted_device_allowed"):
            batch.drop_column(column)
