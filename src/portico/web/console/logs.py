"""Audit logs of the ``default`` tenant: newest first, filtered by key, user, application and
time range, a page at a time; each entry's details show its payload as formatted JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from portico.services.errors import NotFound, ServiceError
from portico.storage import logs as log_repo
from portico.web.console.context import Console, page
from portico.web.console.paging import page_count, page_number
from portico.web.runtime import Runtime

SECTION = "audit-logs"
PAGE_SIZE = 50
FILTERS = ("key", "user_id", "application_id", "start", "end")


def _moment(raw: str, label: str) -> int | None:
    """A ``datetime-local`` value, read as UTC, in epoch milliseconds."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ServiceError(f"{label} is not a date and time (YYYY-MM-DDTHH:MM).") from None
    return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() * 1000)


async def index(ctx: Console) -> Response:
    query = ctx.request.query_params
    chosen = {name: query.get(name, "").strip()[:128] for name in FILTERS}
    number = page_number(ctx)
    try:
        start = _moment(chosen["start"], "From")
        end = _moment(chosen["end"], "To")
        if start is not None and end is not None and start > end:
            raise ServiceError("“From” is after “To”.")
    except ServiceError as error:
        return await ctx.render(
            "logs.html",
            status=400,
            section=SECTION,
            error=error.message,
            logs=[],
            total=0,
            filters=chosen,
            page=1,
            pages=1,
            query="",
        )
    await ctx.runtime.flush_audit()
    async with ctx.read() as conn:
        total, rows = await log_repo.find_logs(
            conn,
            ctx.tenant,
            key=chosen["key"] or None,
            user_id=chosen["user_id"] or None,
            application_id=chosen["application_id"] or None,
            start_time=start,
            end_time=end,
            offset=(number - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    return await ctx.render(
        "logs.html",
        section=SECTION,
        logs=rows,
        total=total,
        filters=chosen,
        page=number,
        pages=page_count(total, PAGE_SIZE),
        query=urlencode({k: v for k, v in chosen.items() if v}),
    )


async def details(ctx: Console) -> Response:
    log_id = ctx.request.path_params["id"]
    await ctx.runtime.flush_audit()
    async with ctx.read() as conn:
        row = await log_repo.get_log(conn, ctx.tenant, log_id)
    if row is None:
        raise NotFound("log", log_id)
    payload: dict[str, Any] = row["payload"] or {}
    return await ctx.render(
        "log.html",
        section=SECTION,
        log=row,
        payload=payload,
        formatted=json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False),
    )


def routes(runtime: Runtime) -> list[Route]:
    return [
        Route("/console/audit-logs", page(runtime, index), methods=["GET"]),
        Route("/console/audit-logs/{id}", page(runtime, details), methods=["GET"]),
    ]
