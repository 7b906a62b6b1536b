"""The layers stay layers: a contract over every module's imports, checked on each run.

- the hosted pages and the Experience API (``web/experience``, ``web/experience_api``) reach
  data only through the engine and services, never ``portico.storage``;
- nothing under ``web/`` imports ``storage.tables`` or SQLAlchemy (no SQL is built there);
- ``protocol`` and ``experience`` never import ``portico.web``;
- ``experience`` never imports SQLAlchemy (its SQL is in ``storage/``).

Imports inside ``if TYPE_CHECKING:`` are annotations only and do not count. ``KNOWN`` would
list violations kept knowingly while they are removed (it is empty); the test fails on any
other, and on a listed one that is gone, so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "portico"

PAGES = ("portico/web/experience/", "portico/web/experience_api/")

# (file under src/, imported module) pairs still to be removed.
KNOWN: frozenset[tuple[str, str]] = frozenset()


def _runtime_imports(path: Path) -> Iterator[str]:
    """The modules ``path`` imports when it runs (absolute names; ``if TYPE_CHECKING:``
    blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = ".".join(path.relative_to(SRC).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if path.name == "__init__.py":
        package = module.removesuffix(".__init__")
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                type_only.update(id(n) for n in ast.walk(inner))
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _violations(relative: str, imported: str) -> Iterator[str]:
    top = imported.split(".")[0]
    if relative.startswith(PAGES) and imported.startswith("portico.storage"):
        yield "pages and the Experience API go through the engine, not portico.storage"
    if relative.startswith("portico/web/") and (
        imported.startswith("portico.storage.tables") or top == "sqlalchemy"
    ):
        yield "web/ builds no SQL (storage.tables, SQLAlchemy)"
    if relative.startswith(("portico/protocol/", "portico/experience/")) and (
        imported.startswith("portico.web")
    ):
        yield "protocol and experience never import portico.web"
    if relative.startswith("portico/experience/") and top == "sqlalchemy":
        yield "experience has no SQL (storage/ has it)"


def _found() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        for imported in _runtime_imports(path):
            for rule in _violations(relative, imported):
                found.setdefault((relative, imported), []).append(rule)
    return found


def test_layers_import_only_what_they_may() -> None:
    found = _found()
    new = {key: rules for key, rules in found.items() if key not in KNOWN}
    assert not new, "\n".join(f"{f} imports {m}: {', '.join(r)}" for (f, m), r in new.items())


def test_the_list_of_known_violations_only_shrinks() -> None:
    gone = KNOWN - set(_found())
    assert not gone, f"no longer violated, remove from KNOWN: {sorted(gone)}"


def test_the_contract_sees_a_violation() -> None:
    """The checker itself: an import of SQL into the engine is caught, one for typing is not."""
    assert list(_violations("portico/experience/x.py", "sqlalchemy.sql"))
    assert list(_violations("portico/web/console/x.py", "portico.storage.tables"))
    assert not list(_violations("portico/web/console/x.py", "portico.storage.users"))
