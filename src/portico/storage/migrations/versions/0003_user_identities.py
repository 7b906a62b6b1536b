"""user_identities: indexed, unique social identities

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_identities",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("identity_id", sa.String(length=256), nullable=False),
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "target", "identity_id", name=op.f("pk_user_identities")
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "user_id",
            "target",
            name=op.f("uq_user_identities_tenant_id_user_id_target"),
        ),
    )


def downgrade() -> None:
    op.drop_table("user_identities")
