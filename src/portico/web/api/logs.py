"""``/api/logs``: the audit log, newest first (Logto's paths and filters)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from portico.services.errors import NotFound, ServiceError
from portico.storage import logs as repo
from portico.web.api.context import ApiContext
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import LogOut, log_out


def _timestamp(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    # At most 15 digits (the year 33658): a column holds 64 bits, and SQLite refuses more.
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15:
        raise ServiceError(f"`{name}` must be epoch milliseconds.", code="request.invalid_input")
    return int(raw)


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], tags=["Audit logs"])

    @router.get("/logs", response_model=list[LogOut])
    async def list_logs(
        request: Request,
        response: Response,
        page: Annotated[Page, Depends(pagination())],
        userId: Annotated[str | None, Query(max_length=128)] = None,
        applicationId: Annotated[str | None, Query(max_length=128)] = None,
        logKey: Annotated[
            str | None, Query(max_length=128, description="e.g. ExchangeTokenBy.RefreshToken")
        ] = None,
        start_time: Annotated[str | None, Query(description="epoch ms, inclusive")] = None,
        end_time: Annotated[str | None, Query(description="epoch ms, inclusive")] = None,
    ) -> list[dict[str, Any]]:
        start, end = _timestamp(start_time, "start_time"), _timestamp(end_time, "end_time")
        if start is not None and end is not None and start > end:
            raise ServiceError("`start_time` is after `end_time`.", code="request.invalid_input")
        await api.flush_audit()
        async with api.read() as conn:
            total, rows = await repo.find_logs(
                conn,
                api.tenant,
                user_id=userId,
                application_id=applicationId,
                key=logKey,
                start_time=start,
                end_time=end,
                offset=page.offset or 0,
                limit=page.size,
            )
        paginate(request, response, page, total)
        return [log_out(r) for r in rows]

    @router.get("/logs/{id}", response_model=LogOut)
    async def get_log(id: str) -> dict[str, Any]:
        await api.flush_audit()
        async with api.read() as conn:
            row = await repo.get_log(conn, api.tenant, id)
        if row is None:
            raise NotFound("log", id)
        return log_out(row)

    return router
