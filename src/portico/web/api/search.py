"""The ``search`` query of Logto's lists, as a dependency (see ``storage/search.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from portico.storage import search as search_sql


def search_query(
    request: Request,
    search: Annotated[
        str | None,
        Query(
            description=(
                "SQL LIKE pattern matched against every searchable field (`%` wildcards), "
                "or `search.<field>` for one field; `mode`=`like`|`exact`, `joint`=`or`|`and`, "
                "`isCaseSensitive`=`true`|`false` as in Logto."
            )
        ),
    ] = None,
) -> search_sql.Search:
    """Parsed from the whole query string (``search.<field>`` keys cannot be declared)."""
    return search_sql.parse(list(request.query_params.multi_items()))
