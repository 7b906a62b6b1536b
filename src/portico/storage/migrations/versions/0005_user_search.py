"""substring indexes for user search (Management API / console ``search=%…%``)

Logto's user search is ``ILIKE '%term%'`` over id, username, e-mail, phone and name: with
plain B-tree indexes every search reads every user (1.2 s at 100k users on SQLite). Trigram
indexes answer it from the index for terms of three characters or more:

- PostgreSQL: ``pg_trgm`` GIN indexes on each searched column (``ILIKE`` uses them as is).
  The extension is trusted since PostgreSQL 13, so a database owner may create it; where it
  cannot be created, search keeps working without the indexes and a warning is logged.
- SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34+), kept in step with
  ``users`` by triggers. It keeps its own copy of the five columns and finds its rows by the
  user id through its own index, not by ``rowid``, which ``VACUUM`` may renumber.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 14:55:00
"""

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("id", "username", "primary_email", "primary_phone", "name")
log = logging.getLogger("portico")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_upgrade()
    elif bind.dialect.name == "postgresql":
        _postgresql_upgrade()


# The FTS index finds a user's old row by its id (a phrase: quotes doubled); an id of under
# three characters has no trigram and is looked for row by row.
_FORGET_OLD = """
    DELETE FROM users_search WHERE length(old.id) >= 3
        AND users_search MATCH 'id : "' || replace(old.id, '"', '""') || '"' AND id = old.id;
    DELETE FROM users_search WHERE length(old.id) < 3 AND id = old.id;
"""
_REMEMBER_NEW = """
    INSERT INTO users_search (id, username, primary_email, primary_phone, name)
    VALUES (new.id, new.username, new.primary_email, new.primary_phone, new.name);
"""
SQLITE = (
    "CREATE VIRTUAL TABLE users_search USING fts5("
    "id, username, primary_email, primary_phone, name, tokenize='trigram')",
    "CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN" + _REMEMBER_NEW + "END",
    "CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN" + _FORGET_OLD + "END",
    "CREATE TRIGGER users_search_update"
    " AFTER UPDATE OF id, username, primary_email, primary_phone, name ON users"
    " BEGIN" + _FORGET_OLD + _REMEMBER_NEW + "END",
    "INSERT INTO users_search (id, username, primary_email, primary_phone, name)"
    " SELECT id, username, primary_email, primary_phone, name FROM users",
)


def _sqlite_upgrade() -> None:
    for statement in SQLITE:
        op.execute(statement)


def _postgresql_upgrade() -> None:
    bind = op.get_bind()
    savepoint = bind.begin_nested()
    try:
        bind.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except Exception as error:  # not installed, or no right to create it
        savepoint.rollback()
        log.warning("user search without trigram indexes: pg_trgm unavailable (%s)", error)
        return
    savepoint.commit()
    for column in COLUMNS:
        op.execute(
            f"CREATE INDEX ix_users_{column}_trgm ON users USING gin ({column} gin_trgm_ops)"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS users_search_{name}")
        op.execute("DROP TABLE IF EXISTS users_search")
    elif bind.dialect.name == "postgresql":
        for column in COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_users_{column}_trgm")
