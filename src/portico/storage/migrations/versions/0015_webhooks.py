"""Webhooks (issue 35): Logto's hooks, with their signing keys sealed, and the outbox of
deliveries, written in the transaction of the change that caused them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-14 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "hooks",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=256), server_default="", nullable=False),
        sa.Column("event", sa.String(length=128), nullable=True),
        sa.Column("events", JSON, nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("signing_key", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hooks")),
    )
    op.create_index(
        op.f("ix_hooks_tenant_id_created_at"), "hooks", ["tenant_id", "created_at"], unique=False
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("hook_id", sa.String(length=21), nullable=False),
        sa.Column("event", sa.String(length=128), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.BigInteger(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hook_id"],
            ["hooks.id"],
            name=op.f("fk_webhook_deliveries_hook_id_hooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_hook_id_status_lease_expires_at"),
        "webhook_deliveries",
        ["hook_id", "status", "lease_expires_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_deliveries_status_next_attempt_at"),
        "webhook_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_webhook_deliveries_status_next_attempt_at"), table_name="webhook_deliveries"
    )
    op.drop_index(
        op.f("ix_webhook_deliveries_hook_id_status_lease_expires_at"),
        table_name="webhook_deliveries",
    )
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_hooks_tenant_id_created_at"), table_name="hooks")
    op.drop_table("hooks")
