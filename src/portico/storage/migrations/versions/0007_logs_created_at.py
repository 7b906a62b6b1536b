"""audit-log retention: index ``logs.created_at``

The purge deletes entries older than ``PORTICO_LOG_RETENTION_DAYS`` across tenants; without
an index leading with ``created_at`` every run read the whole table, even with nothing to
delete.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 16:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_logs_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_logs_created_at"))
