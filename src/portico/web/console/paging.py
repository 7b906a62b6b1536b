"""Paged console lists: ``?page=`` (1-based) in, the page count out (``_pager.html``)."""

from __future__ import annotations

from portico.web.console.context import Console


def page_number(ctx: Console) -> int:
    """The ``page`` query parameter; anything unreadable is the first page."""
    raw = ctx.request.query_params.get("page", "1")
    return max(int(raw), 1) if raw.isdigit() and len(raw) < 7 else 1


def page_count(total: int, size: int) -> int:
    return max((total + size - 1) // size, 1)
