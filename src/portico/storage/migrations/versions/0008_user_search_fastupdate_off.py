"""user search on PostgreSQL: trigram indexes without a pending list

GIN indexes buffer new entries in a pending list (``fastupdate``) that every search reads
in full until a vacuum or a 4 MB overflow merges it. With the five trigram indexes of
migration 0005 that list made a search over a million freshly added users take 1.8 s
instead of 8 ms (bench/scale.py); steady sign-ups keep it partly full between autovacuums.
Writing new entries straight into the index keeps search cost independent of when the last
vacuum ran; it makes inserts slower (a quarter of a millisecond a user instead of less
than a tenth), which a sign-up does not notice and a bulk load avoids by switching the
list on for its duration (``storage.users.bulk_loading``). Whatever is pending now is
merged here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 01:10:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("id", "username", "primary_email", "primary_phone", "name")


def _present() -> list[str]:
    """The 0005 indexes that exist (none where pg_trgm could not be created)."""
    names = [f"ix_users_{column}_trgm" for column in COLUMNS]
    found = op.get_bind().execute(
        text("SELECT relname FROM pg_class WHERE relkind = 'i' AND relname = ANY(:names)"),
        {"names": names},
    )
    return [row[0] for row in found]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _present():
        op.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{name}'::regclass)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _present():
        op.execute(f"ALTER INDEX {name} RESET (fastupdate)")
