"""Audit logs of the ``default`` tenant: newest first, filtered by key, user, application and
time range, a page at a time; each entry's details show its payload as formatted JSON.

Entries store ids (Logto's shape); the page puts beside them who acted (the console admin's
username, the Management API caller's application or user) and the user's and application's
names, all looked up in one query per page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from portico.services.bootstrap import ADMIN_TENANT
from portico.services.errors import NotFound, ServiceError
from portico.storage import logs as log_repo
from portico.web.console.context import Console, page
from portico.web.console.language import Phrases
from portico.web.console.paging import page_count, page_number
from portico.web.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

SECTION = "audit-logs"
PAGE_SIZE = 50
FILTERS = ("key", "user_id", "application_id", "start", "end")


def _moment(raw: str, label: str, t: Phrases) -> int | None:
    """A ``datetime-local`` value, read as UTC, in epoch milliseconds."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ServiceError(t("logs.not_a_moment", label=label)) from None
    return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() * 1000)


def _times(ms: int) -> dict[str, str]:
    """Epoch milliseconds in UTC, as the filters read them: ``time`` for people
    (``2025-03-04 17:05:09 UTC``), ``iso`` for ``<time datetime>``."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return {
        "time": moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "iso": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _subjects(row: dict[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """The entry's user id, application id and actor (``{type, id}``; ``{}`` for none)."""
    payload = row["payload"] or {}
    actor = payload.get("actor")
    return (
        row["user_id"] or _text(payload.get("userId")),
        row["application_id"] or _text(payload.get("applicationId")),
        actor if isinstance(actor, dict) and _text(actor.get("id")) else {},
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


# actor type -> (what its id names in ``log_repo.names``, the phrase the page says it with)
ACTORS = {
    "console": ("admin", "logs.actor_console"),
    "app": ("application", "logs.actor_app"),
    "user": ("user", "logs.actor_user"),
}


async def _annotated(
    conn: AsyncConnection, tenant: str, rows: list[dict[str, Any]], t: Phrases
) -> list[dict[str, Any]]:
    """``rows`` with ``user``, ``application`` and ``actor`` (``{id, name, kind}`` or None)
    and their time, readable."""
    wanted: dict[str, set[str]] = {"user": set(), "application": set(), "admin": set()}
    subjects = [_subjects(row) for row in rows]
    for user_id, application_id, actor in subjects:
        wanted["user"].update([user_id] if user_id else [])
        wanted["application"].update([application_id] if application_id else [])
        if actor.get("type") in ACTORS:
            wanted[ACTORS[actor["type"]][0]].add(actor["id"])
    names = await log_repo.names(
        conn, tenant, user_ids=wanted["user"], application_ids=wanted["application"],
        admin_tenant_id=ADMIN_TENANT, admin_ids=wanted["admin"],
    )  # fmt: skip

    def named(kind: str, item_id: str | None, label: str = "") -> dict[str, str] | None:
        if not item_id:
            return None
        return {"id": item_id, "name": names.get((kind, item_id), ""), "kind": label}

    annotated = []
    for row, (user_id, application_id, actor) in zip(rows, subjects, strict=True):
        kind, phrase = ACTORS.get(str(actor.get("type")), ("", ""))
        label = t(phrase) if phrase else str(actor.get("type") or "")
        annotated.append(
            {
                **row,
                "user": named("user", user_id),
                "application": named("application", application_id),
                "actor": named(kind, actor.get("id"), label),
                **_times(row["created_at"]),
            }
        )
    return annotated


async def index(ctx: Console) -> Response:
    query = ctx.request.query_params
    chosen = {name: query.get(name, "").strip()[:128] for name in FILTERS}
    number = page_number(ctx)
    try:
        start = _moment(chosen["start"], ctx.t("logs.from_short"), ctx.t)
        end = _moment(chosen["end"], ctx.t("logs.to_short"), ctx.t)
        if start is not None and end is not None and start > end:
            raise ServiceError(ctx.t("logs.from_after_to"))
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
        rows = await _annotated(conn, ctx.tenant, rows, ctx.t)
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
        [row] = await _annotated(conn, ctx.tenant, [row], ctx.t)
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
