"""Reading a provider's user document through an admin-written field map."""

from __future__ import annotations

from typing import Any


def pick(document: Any, path: str | None) -> Any:
    """The value at a dotted ``path`` (``"data.user.id"``), or None."""
    if not path:
        return None
    value = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def text(value: Any) -> str | None:
    """Strings as they are, numbers as text (ids are often numeric), anything else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) and value else None
