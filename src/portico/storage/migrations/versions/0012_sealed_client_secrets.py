"""application_secrets.value_sealed: the sealed secret of a client_secret_jwt application

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("application_secrets") as batch:
        batch.add_column(sa.Column("value_sealed", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("application_secrets") as batch:
        batch.drop_column("value_sealed")
