"""MFA: a user's factors (a row each), backup codes (HMACs, single use), ``logto_config``;
the sign-in experience's ``adaptiveMfa`` and ``passkeySignIn``

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    for column in ("adaptive_mfa", "passkey_sign_in"):
        op.add_column(
            "sign_in_experiences",
            sa.Column(column, JSON, nullable=False, server_default=sa.text("'{}'")),
        )
    op.add_column(
        "users",
        sa.Column("logto_config", JSON, nullable=False, server_default=sa.text("'{}'")),
    )
    op.create_table(
        "user_mfa_factors",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("credential_id", sa.String(length=1024), nullable=True),
        sa.Column("rp_id", sa.String(length=253), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_mfa_factors_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_mfa_factors")),
        sa.UniqueConstraint(
            "tenant_id", "credential_id", name=op.f("uq_user_mfa_factors_tenant_id_credential_id")
        ),
    )
    op.create_index(
        op.f("ix_user_mfa_factors_user_id"), "user_mfa_factors", ["user_id"], unique=False
    )
    op.create_table(
        "mfa_backup_codes",
        sa.Column("factor_id", sa.String(length=21), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["factor_id"],
            ["user_mfa_factors.id"],
            name=op.f("fk_mfa_backup_codes_factor_id_user_mfa_factors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("factor_id", "code_hash", name=op.f("pk_mfa_backup_codes")),
    )


def downgrade() -> None:
    op.drop_table("mfa_backup_codes")
    op.drop_index(op.f("ix_user_mfa_factors_user_id"), table_name="user_mfa_factors")
    op.drop_table("user_mfa_factors")
    op.drop_column("users", "logto_config")
    op.drop_column("sign_in_experiences", "passkey_sign_in")
    op.drop_column("sign_in_experiences", "adaptive_mfa")
