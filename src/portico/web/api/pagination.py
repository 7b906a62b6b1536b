"""Logto's pagination: ``?page=`` (from 1) and ``?page_size=`` (default 20, at most 100); the
answer carries ``Total-Number`` and RFC 8288 ``Link`` headers (first, prev, next, last).

Lists Logto paginates only on request (applications, resources, a role's scopes) return every
row when neither parameter is given, without the headers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Request, Response

from portico.web.api.errors import ApiError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Any larger page would be empty anyway, and its offset must fit the databases' 64-bit
# integers (a page of 10**18 made SQLite's driver raise OverflowError: a 500).
MAX_PAGE = 1_000_000_000


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    disabled: bool = False

    @property
    def offset(self) -> int | None:
        return None if self.disabled else (self.number - 1) * self.size

    @property
    def limit(self) -> int | None:
        return None if self.disabled else self.size


def _positive(raw: str, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            400, "guard.invalid_pagination", "The pagination value is invalid."
        ) from None
    if value < 1 or (maximum is not None and value > maximum):
        raise ApiError(400, "guard.invalid_pagination", "The pagination value is invalid.")
    return value


def pagination(*, optional: bool = False) -> Callable[..., Page]:
    """A dependency reading ``page`` and ``page_size``; 400 ``guard.invalid_pagination`` when
    either is not a positive integer or ``page_size`` exceeds 100."""

    def dependency(
        page: Annotated[str | None, Query(description="Page number, from 1.")] = None,
        page_size: Annotated[
            str | None, Query(description=f"Entries per page, 1 to {MAX_PAGE_SIZE}; default 20.")
        ] = None,
    ) -> Page:
        if optional and not page and not page_size:
            return Page(1, DEFAULT_PAGE_SIZE, disabled=True)
        return Page(
            _positive(page, MAX_PAGE) if page else 1,
            _positive(page_size, MAX_PAGE_SIZE) if page_size else DEFAULT_PAGE_SIZE,
        )

    return dependency


# What stays as it is in a Link URL: RFC 3986's reserved and unreserved characters and "%".
URL_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


def paginate(request: Request, response: Response, page: Page, total: int) -> None:
    """Set ``Total-Number`` and the ``Link`` headers for one page of ``total`` entries."""
    if page.disabled:
        return
    last = max(1, -(-total // page.size))
    response.headers["Total-Number"] = str(total)

    def link(number: int, rel: str) -> None:
        # The path as the client sent it may hold any character (``/hooks/Ā/...``): percent-
        # encoded here, since a header carries Latin-1 only (a raw one was a 500).
        url = quote(str(request.url.include_query_params(page=number)), safe=URL_SAFE)
        response.headers.append("Link", f'<{url}>; rel="{rel}"')

    link(1, "first")
    if page.number > 1:
        link(page.number - 1, "prev")
    link(last, "last")
    if page.number < last:
        link(page.number + 1, "next")
