"""Logto's list search (``search``, ``search.<field>``, ``mode``, ``joint``,
``isCaseSensitive``) turned into one SQL condition that both SQLite and PostgreSQL run.

``like`` is SQL ``LIKE`` with the caller's own ``%`` / ``_`` wildcards, as in Logto; matching
ignores case unless ``isCaseSensitive=true`` (SQLite's ``LIKE`` always ignores ASCII case, so a
case-sensitive ``like`` there is translated to ``GLOB``). ``exact`` compares whole values.
Logto's ``similar_to`` and ``posix`` modes are PostgreSQL-only and refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, true

MODES = ("like", "exact")


class InvalidSearch(ValueError):
    """The search parameters are malformed; the message says how (Logto: 400)."""


@dataclass(frozen=True)
class Match:
    mode: str
    field: str | None  # None: every searchable field
    values: tuple[str, ...]


@dataclass(frozen=True)
class Search:
    matches: tuple[Match, ...] = ()
    joint: str = "or"
    case_sensitive: bool = False

    @property
    def empty(self) -> bool:
        return not self.matches


def parse(items: Sequence[tuple[str, str]]) -> Search:
    """Read Logto's search keys from a query string's ``(key, value)`` pairs; other keys are
    ignored (the route validates those)."""
    modes: dict[str | None, str] = {}
    values: dict[str | None, list[str]] = {}
    joint = "or"
    case_sensitive = False
    for key, value in items:
        if key in ("joint", "jointMode"):
            if value not in ("and", "or"):
                raise InvalidSearch(f"Search joint mode `{value}` is not valid, expect and or or.")
            joint = value
        elif key == "isCaseSensitive":
            case_sensitive = value.lower() in ("true", "1", "yes", "y")
        elif key == "mode" or key.startswith("mode."):
            name = _field_of(key)
            if value not in MODES:
                raise InvalidSearch(
                    f"Search match mode `{value}` is not supported, expect one of "
                    f"{', '.join(MODES)}."
                )
            modes[name] = value
        elif key == "search" or key.startswith("search."):
            values.setdefault(_field_of(key), []).append(value)
    matches = []
    for name, given in values.items():
        mode = modes.get(name) or modes.get(None) or "like"
        if not all(given):
            raise InvalidSearch("Search value cannot be empty.")
        if mode != "exact" and len(given) != 1:
            raise InvalidSearch("Only one search value is allowed when search mode is not `exact`.")
        matches.append(Match(mode, name, tuple(given)))
    return Search(tuple(matches), joint, case_sensitive)


def _field_of(key: str) -> str | None:
    parts = key.split(".")
    if len(parts) > 2:
        raise InvalidSearch(
            f"Unsupported nested search field path `{'.'.join(parts[1:])}` detected. "
            "Only the first level field is supported."
        )
    return parts[1] if len(parts) == 2 else None


# A table's own index, asked first: given the API field names a match covers and the match,
# a condition that every row the match selects also meets (it may let others through: the
# match itself is checked after it), or None where the index cannot narrow this match.
Prefilter = Callable[[Sequence[str], Match], ColumnElement[bool] | None]


def condition(
    search: Search,
    columns: Mapping[str, ColumnElement[str]],
    dialect: str,
    prefilter: Prefilter | None = None,
) -> ColumnElement[bool]:
    """The WHERE condition for ``search`` over ``columns`` (API field name -> column);
    ``dialect`` is the connection's (``conn.dialect.name``)."""
    if search.empty:
        return true()
    parts = []
    for match in search.matches:
        if match.field is not None and match.field not in columns:
            raise InvalidSearch(
                f"Search field `{match.field}` is not valid, expect one of {', '.join(columns)}."
            )
        names = [match.field] if match.field else list(columns)
        targets = [columns[name] for name in names]
        part = or_(*(_compare(c, match, search.case_sensitive, dialect) for c in targets))
        narrowed = prefilter(names, match) if prefilter is not None else None
        parts.append(part if narrowed is None else and_(narrowed, part))
    return and_(*parts) if search.joint == "and" else or_(*parts)


def literal_runs(match: Match) -> list[list[str]]:
    """For each of the match's values, the runs of characters it requires literally, as
    SQLite reads a ``LIKE`` pattern (``%`` and ``_`` are wildcards, there is no escape
    character): ``%ann_smith%`` -> ``["ann", "smith"]``; an ``exact`` value is one run."""
    if match.mode == "exact":
        return [[value] for value in match.values]
    return [[run for run in re.split("[%_]", value) if run] for value in match.values]


def escape_like(value: str) -> str:
    """``value`` as a PostgreSQL ``LIKE`` pattern matching only itself (backslash escapes)."""
    return re.sub(r"([\\%_])", r"\\\1", value)


def _compare(
    column: ColumnElement[str], match: Match, case_sensitive: bool, dialect: str
) -> ColumnElement[bool]:
    if match.mode == "exact":
        if case_sensitive:
            return column.in_(match.values)
        return func.lower(column).in_([v.lower() for v in match.values])
    pattern = match.values[0]
    if not case_sensitive:
        return column.ilike(pattern)
    if dialect != "sqlite":
        return column.like(pattern)
    # SQLite's LIKE ignores ASCII case whatever is asked: the same pattern as GLOB
    # (% -> *, _ -> ?, glob's own metacharacters bracketed).
    glob = "".join(
        "*" if ch == "%" else "?" if ch == "_" else f"[{ch}]" if ch in "*?[" else ch
        for ch in pattern
    )
    return column.op("GLOB")(glob)
