"""personal_access_tokens: a user's tokens for token exchange, kept as digests

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "personal_access_tokens",
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("value_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_personal_access_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "user_id", "name", name=op.f("pk_personal_access_tokens")
        ),
        sa.UniqueConstraint("value_digest", name=op.f("uq_personal_access_tokens_value_digest")),
    )


def downgrade() -> None:
    op.drop_table("personal_access_tokens")
