"""``storage.database.head_revision`` reads the newest migration from file names, so that a
start-up against an up-to-date database skips Alembic; it must agree with Alembic's own
view of the migration chain, or a new migration would never run."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from portico.storage.database import MIGRATIONS_DIR, head_revision


def test_head_revision_is_alembics_single_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [head_revision()]
    revisions = {r.revision for r in script.walk_revisions()}
    assert revisions == {f"{n:04d}" for n in range(1, int(head_revision()) + 1)}
