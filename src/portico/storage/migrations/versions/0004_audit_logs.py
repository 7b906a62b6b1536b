"""audit logs (Logto's ``logs``); users listed newest first

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 13:07:48.516188
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "logs",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("application_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logs")),
    )
    with op.batch_alter_table("logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_logs_tenant_id_application_id"),
            ["tenant_id", "application_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_logs_tenant_id_created_at_id"),
            ["tenant_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_logs_tenant_id_key"), ["tenant_id", "key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_logs_tenant_id_user_id"), ["tenant_id", "user_id"], unique=False
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_tenant_id_created_at"), ["tenant_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_tenant_id_created_at"))
    with op.batch_alter_table("logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_logs_tenant_id_user_id"))
        batch_op.drop_index(batch_op.f("ix_logs_tenant_id_key"))
        batch_op.drop_index(batch_op.f("ix_logs_tenant_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_logs_tenant_id_application_id"))

    op.drop_table("logs")
