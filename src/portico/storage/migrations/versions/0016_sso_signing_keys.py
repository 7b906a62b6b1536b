"""Signed AuthnRequests for SAML connectors: the service provider's signing keys, one active
at a time, their private keys sealed.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TABLE = "saml_sso_connector_signing_keys"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.String(length=21), nullable=False),
        sa.Column("id", sa.String(length=21), nullable=False),
        sa.Column("sso_connector_id", sa.String(length=128), nullable=False),
        sa.Column("private_key", JSON, nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sso_connector_id"],
            ["sso_connectors.id"],
            name=op.f("fk_saml_sso_connector_signing_keys_sso_connector_id_sso_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saml_sso_connector_signing_keys")),
    )
    op.create_index(
        op.f("ix_saml_sso_connector_signing_keys_sso_connector_id"),
        TABLE,
        ["sso_connector_id"],
        unique=False,
    )
    op.create_index(
        "saml_sso_connector_signing_keys__unique_active",
        TABLE,
        ["tenant_id", "sso_connector_id"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )


def downgrade() -> None:
    op.drop_index("saml_sso_connector_signing_keys__unique_active", table_name=TABLE)
    op.drop_index(op.f("ix_saml_sso_connector_signing_keys_sso_connector_id"), table_name=TABLE)
    op.drop_table(TABLE)
