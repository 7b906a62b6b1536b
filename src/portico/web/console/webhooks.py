"""Webhooks in the console (Logto's "Webhooks"): the list with each hook's last 24 hours
(requests, success rate), "Create webhook", and a page per hook with Settings (name, endpoint,
events grouped as Logto groups them, custom headers, enable/disable), Signing key (shown,
regenerated behind the password), Recent deliveries (the ``TriggerHook.<event>`` entries
``/api/hooks/:id/recent-logs`` reads, filtered by event, a page at a time, each with its
request and response), Test (a sample of one event sent now) and delete with the typed name.

The form is checked whole as ``/api``'s body is (the service's ``check_url`` and
``check_headers``), then the endpoint's name is resolved (``check_target``: an internal
address is refused) before one ``service.create``/``update`` in the transaction holding the
entry /api writes (``ManagementApi.CreateHook``...); a refused form answers with the whole
page and its draft, and nothing of it is stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from portico.services import webhooks as service
from portico.services.errors import NotFound, ServiceError
from portico.services.webhook_events import (
    DATA_EVENTS,
    EXCEPTION_EVENTS,
    HOOK_EVENTS,
    INTERACTION_EVENTS,
)
from portico.storage import logs as log_repo
from portico.storage import webhooks as repo
from portico.storage.database import now_ms
from portico.web.console.context import Console, form, page
from portico.web.console.language import Phrases
from portico.web.console.paging import page_count, page_number
from portico.web.runtime import Runtime

SECTION = "webhooks"
BASE = "/console/webhooks"
PAGE_SIZE = 20
DAY_MS = 86400 * 1000  # Logto's console shows the last 24 hours
MAX_NAME = 256  # /api's limits
MAX_URL = 2048
MAX_HEADERS = 50
MAX_HEADER_NAME = 256
MAX_HEADER_VALUE = 4096
BLANK_HEADER_ROWS = 2  # empty rows to add headers without JavaScript
# Logto's order of the data events' entities, each with its heading.
ENTITIES = (("User", "webhook.group_user"), ("Organization", "webhook.group_organization"),
            ("Role", "webhook.group_role"), ("OrganizationRole", "webhook.group_organization_role"),
            ("Scope", "webhook.group_scope"),
            ("OrganizationScope", "webhook.group_organization_scope"))  # fmt: skip


def event_groups(t: Phrases) -> list[tuple[str, list[str]]]:
    """The events as Logto's form groups them: data events by entity, then the interaction
    events, then the security (exception) events."""
    groups = [
        (t(phrase), [e for e in DATA_EVENTS if e.split(".", 1)[0] == entity])
        for entity, phrase in ENTITIES
    ]
    return [*groups, (t("webhook.group_interaction"), list(INTERACTION_EVENTS)),
            (t("webhook.group_security"), list(EXCEPTION_EVENTS))]  # fmt: skip


def _sealer(ctx: Console) -> service.HookSealer:
    return service.HookSealer(ctx.runtime.settings.encryption_key_bytes())


def _events_of(hook: dict[str, Any]) -> list[str]:
    """Logto's reading: ``events``, or the legacy single ``event`` when it is empty."""
    return list(hook["events"] or ([hook["event"]] if hook["event"] else []))


def _rate(stats: dict[str, int]) -> int | None:
    """The success rate in percent (None with no request)."""
    if not stats["requestCount"]:
        return None
    return round(100 * stats["successCount"] / stats["requestCount"])


def _moment(ms: int) -> dict[str, str]:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return {"time": moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "iso": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip


# List and create ------------------------------------------------------------------------------
async def index(ctx: Console) -> Response:
    number = page_number(ctx)
    async with ctx.read() as conn:
        total, rows = await repo.list_hooks(conn, ctx.tenant, (number - 1) * PAGE_SIZE, PAGE_SIZE)
        ids = [r["id"] for r in rows]
        stats = await repo.execution_stats(conn, ctx.tenant, ids, now_ms() - DAY_MS) if ids else {}
    hooks = [{**r, "event_list": _events_of(r), "stats": stats[r["id"]],
              "rate": _rate(stats[r["id"]])} for r in rows]  # fmt: skip
    return await ctx.render(
        "webhooks.html", section=SECTION, hooks=hooks, total=total, page=number,
        pages=page_count(total, PAGE_SIZE), query="",
    )  # fmt: skip


def _blank() -> dict[str, Any]:
    return {"name": "", "url": "", "events": [], "headers": []}


async def _new_form(
    ctx: Console, draft: dict[str, Any], status: int = 200, errors: dict[str, str] | None = None
) -> Response:
    return await ctx.render(
        "webhook_new.html", status=status, section=SECTION, draft=draft, errors=errors or {},
        groups=event_groups(ctx.t), blank_rows=range(BLANK_HEADER_ROWS),
    )  # fmt: skip


async def new(ctx: Console) -> Response:
    return await _new_form(ctx, _blank())


async def create(ctx: Console) -> Response:
    draft = _draft(ctx)
    values, errors = await _checked(ctx, draft)
    if errors:
        return await _new_form(ctx, draft, 400, errors)
    async with ctx.write() as conn:
        row = await service.create(conn, ctx.tenant, _sealer(ctx), {**values, "enabled": True})
        await ctx.audit(conn, "CreateHook", status=201)
    ctx.flash(ctx.t("webhook.created", name=row["name"]))
    return await ctx.redirect(f"{BASE}/{row['id']}")


# The form: name, endpoint, events, headers -----------------------------------------------------
def _draft(ctx: Console) -> dict[str, Any]:
    """What the admin typed; a header row counts when either of its boxes is filled in."""
    rows = zip_longest(ctx.values("header_name"), ctx.values("header_value"), fillvalue="")
    headers = [(n.strip()[: MAX_HEADER_NAME + 1], v[: MAX_HEADER_VALUE + 1]) for n, v in rows]
    return {
        "name": ctx.field("name", MAX_NAME + 1).strip(),
        "url": ctx.field("url", MAX_URL + 1).strip(),
        "events": list(dict.fromkeys(ctx.values("events")))[: len(HOOK_EVENTS) + 1],
        "headers": [(n, v) for n, v in headers if n or v][: MAX_HEADERS + 1],
    }


def _name_problem(t: Phrases, name: str) -> str | None:
    if not name:
        return t("connector.required")
    return t("form.at_most_characters", count=MAX_NAME) if len(name) > MAX_NAME else None


def _url_problem(t: Phrases, url: str) -> str | None:
    if not url:
        return t("connector.required")
    try:
        service.check_url(url)
    except ValueError as refused:
        return str(refused)
    return None


def _events_problem(t: Phrases, events: list[str]) -> str | None:
    if not events:
        return t("webhook.events_missing")
    unknown = [e for e in events if e not in HOOK_EVENTS]
    return t("webhook.event_unknown", event=unknown[0][:64]) if unknown else None


def _headers_problem(t: Phrases, rows: list[tuple[str, str]]) -> str | None:
    """Logto's console checks (a name and a value each, no name twice), /api's limits, then
    the service's rule (no line breaks, none of the headers Portico sets)."""
    if len(rows) > MAX_HEADERS:
        return t("webhook.headers_too_many", count=MAX_HEADERS)
    seen: set[str] = set()
    for name, value in rows:
        if not name or not value:
            return t("webhook.header_name_missing" if not name else "webhook.header_value_missing")
        if len(name) > MAX_HEADER_NAME or len(value) > MAX_HEADER_VALUE:
            return t("webhook.header_too_long", name=name[:64])
        if name.lower() in seen:
            return t("webhook.header_repeated", name=name)
        seen.add(name.lower())
    try:
        service.check_headers(dict(rows))
    except ValueError as refused:
        return str(refused)
    return None


async def _checked(ctx: Console, draft: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The service's ``values`` and the errors by field (none: the endpoint's name was
    resolved and leads to no internal address)."""
    t = ctx.t
    problems = {
        "name": _name_problem(t, draft["name"]),
        "url": _url_problem(t, draft["url"]),
        "events": _events_problem(t, draft["events"]),
        "headers": _headers_problem(t, draft["headers"]),
    }
    errors = {field: problem for field, problem in problems.items() if problem}
    if not errors:
        try:
            await service.check_target(draft["url"])
        except ServiceError as refused:
            errors["url"] = refused.message
    config: dict[str, Any] = {"url": draft["url"]}
    if draft["headers"]:
        config["headers"] = dict(draft["headers"])
    return {"name": draft["name"], "events": draft["events"], "config": config}, errors


# The hook's page --------------------------------------------------------------------------------
def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    """One attempt as the Recent deliveries list shows it."""
    payload = row["payload"] or {}
    response = payload.get("response") or {}
    return {"id": row["id"], "event": row["key"].removeprefix(repo.LOG_PREFIX),
            "ok": payload.get("result") == "Success", "status": response.get("statusCode"),
            "duration": payload.get("durationMs"), "error": payload.get("error"),
            "created_at": row["created_at"], **_moment(row["created_at"])}  # fmt: skip


async def _deliveries(ctx: Console, hook_id: str) -> dict[str, Any]:
    """The Recent deliveries tab: the last 24 hours' attempts, newest first, ``?event=`` and
    ``?page=`` read from the address."""
    query = ctx.request.query_params
    event = query.get("event", "")
    event = event if event in HOOK_EVENTS else ""
    number = page_number(ctx)
    async with ctx.read() as conn:
        total, rows = await repo.recent_logs(
            conn, ctx.tenant, hook_id, key=repo.LOG_PREFIX + event if event else None,
            since=now_ms() - DAY_MS, until=None, offset=(number - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )  # fmt: skip
    return {"rows": [_delivery(r) for r in rows], "total": total, "event": event,
            "page": number, "pages": page_count(total, PAGE_SIZE),
            "query": urlencode({"event": event} if event else {}),
            "asked": "event" in query or "page" in query}  # fmt: skip


def _settings_of(hook: dict[str, Any]) -> dict[str, Any]:
    config = hook["config"] or {}
    return {"name": hook["name"], "url": config.get("url", ""), "events": _events_of(hook),
            "headers": list((config.get("headers") or {}).items())}  # fmt: skip


async def _page(
    ctx: Console,
    hook_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    draft: dict[str, Any] | None = None,
    test: dict[str, Any] | None = None,
) -> Response:
    """The page with every tab; a refused form's draft and errors in place (console.js opens
    the tab holding the error), a test's outcome in the Test tab."""
    async with ctx.read() as conn:
        hook = await service.get(conn, ctx.tenant, hook_id)
        stats = (await repo.execution_stats(conn, ctx.tenant, [hook_id], now_ms() - DAY_MS))[
            hook_id
        ]
    deliveries = await _deliveries(ctx, hook_id)
    tab = "wh-test" if test else "wh-deliveries" if deliveries["asked"] else ""
    return await ctx.render(
        "webhook.html", status=status, section=SECTION, hook=hook, stats=stats,
        rate=_rate(stats), settings=draft or _settings_of(hook), errors=errors or {},
        groups=event_groups(ctx.t), blank_rows=range(BLANK_HEADER_ROWS),
        signing_key=_sealer(ctx).open(ctx.tenant, hook_id, hook["signing_key"]),
        deliveries=deliveries, test=test, default_tab=tab, confirm=hook["name"] or hook["id"],
        test_event=(test or {}).get("event") or (_events_of(hook) or [HOOK_EVENTS[0]])[0],
    )  # fmt: skip


async def details(ctx: Console) -> Response:
    return await _page(ctx, ctx.request.path_params["id"])


async def _saved(ctx: Console, hook_id: str, tab: str, message: str) -> Response:
    ctx.flash(message)
    return await ctx.redirect(f"{BASE}/{hook_id}#{tab}")


async def update_settings(ctx: Console) -> Response:
    """Name, endpoint (``config`` replaced whole, as /api's PATCH does), events."""
    hook_id = ctx.request.path_params["id"]
    draft = _draft(ctx)
    values, errors = await _checked(ctx, draft)
    if errors:
        return await _page(ctx, hook_id, status=400, errors=errors, draft=draft)
    async with ctx.write() as conn:
        await service.update(conn, ctx.tenant, hook_id, {**values, "event": None})
        await ctx.audit(conn, "UpdateHook", params={"id": hook_id}, status=200)
    return await _saved(ctx, hook_id, "wh-settings", ctx.t("webhook.saved"))


async def set_enabled(ctx: Console) -> Response:
    """A disabled hook keeps its settings and gets no new deliveries."""
    hook_id = ctx.request.path_params["id"]
    enabled = ctx.field("enabled") == "true"
    async with ctx.write() as conn:
        await service.update(conn, ctx.tenant, hook_id, {"enabled": enabled})
        await ctx.audit(conn, "UpdateHook", params={"id": hook_id}, status=200)
    message = ctx.t("webhook.reactivated" if enabled else "webhook.disabled")
    return await _saved(ctx, hook_id, "wh-settings", message)


async def regenerate_key(ctx: Console) -> Response:
    """Takes effect at once: deliveries not yet sent are signed with the new key."""
    hook_id = ctx.request.path_params["id"]
    async with ctx.write() as conn:
        await service.regenerate_key(conn, ctx.tenant, _sealer(ctx), hook_id)
        await ctx.audit(conn, "UpdateHookSigningKey", params={"id": hook_id}, status=200)
    return await _saved(ctx, hook_id, "wh-signing-key", ctx.t("webhook.key_regenerated"))


async def send_test(ctx: Console) -> Response:
    """A sample of the chosen event sent now to the saved endpoint, signed with the hook's
    key (``POST /api/hooks/:id/test``); the endpoint's answer is shown in the Test tab."""
    hook_id = ctx.request.path_params["id"]
    event = ctx.field("event", 128)
    if event not in HOOK_EVENTS:
        return await _page(ctx, hook_id, status=400, errors={"event": ctx.t(
            "webhook.event_unknown", event=event[:64])})  # fmt: skip
    async with ctx.read() as conn:
        hook = await service.get(conn, ctx.tenant, hook_id)
    key = _sealer(ctx).open(ctx.tenant, hook_id, hook["signing_key"])
    outcome: dict[str, Any] = {"event": event, "url": hook["config"].get("url", ""), "ok": True,
                               **_moment(now_ms())}  # fmt: skip
    refused: ServiceError | None = None
    try:
        await service.send_test(hook_id, key, [event], hook["config"])
    except ServiceError as error:
        refused, data = error, error.data if isinstance(error.data, dict) else {}
        outcome.update(ok=False, message=error.message, status=data.get("responseStatus"),
                       body=data.get("responseBody"))  # fmt: skip
    async with ctx.write() as conn:
        await ctx.audit(conn, "TestHook", error=refused, params={"id": hook_id},
                        status=refused.status if refused else 204)  # fmt: skip
    return await _page(ctx, hook_id, test=outcome)


async def delivery(ctx: Console) -> Response:
    """One attempt: Logto's log details (its raw payload), with the request's body and the
    endpoint's answer apart."""
    hook_id, log_id = ctx.request.path_params["id"], ctx.request.path_params["log_id"]
    async with ctx.read() as conn:
        hook = await service.get(conn, ctx.tenant, hook_id)
        row = await log_repo.get_log(conn, ctx.tenant, log_id)
    payload = (row or {}).get("payload") or {}
    if (
        row is None
        or not row["key"].startswith(repo.LOG_PREFIX)
        or payload.get("hookId") != hook_id
    ):
        raise NotFound("log", log_id)
    response = payload.get("response") or {}
    return await ctx.render(
        "webhook_delivery.html", section=SECTION, hook=hook, entry=_delivery(row),
        attempt=payload.get("attempt"), delivery_id=payload.get("deliveryId"),
        request_body=_pretty((payload.get("hookRequest") or {}).get("body")),
        response_body=_pretty(response.get("body")) if response else None,
        raw=_pretty(payload),
    )  # fmt: skip


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


async def delete(ctx: Console) -> Response:
    """Only with the hook's name typed again (its id for a hook without a name); its
    deliveries not yet sent go with it, its attempts stay in the audit log."""
    hook_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        hook = await service.get(conn, ctx.tenant, hook_id)
    if not ctx.name_typed(hook["name"] or hook["id"]):
        refused = {"confirm_name": ctx.t("webhook.delete_refused")}
        return await _page(ctx, hook_id, status=400, errors=refused)
    async with ctx.write() as conn:
        await service.delete(conn, ctx.tenant, hook_id)
        await ctx.audit(conn, "DeleteHook", params={"id": hook_id}, status=204)
    ctx.flash(ctx.t("webhook.deleted", name=hook["name"] or hook["id"]))
    return await ctx.redirect(BASE)


def routes(runtime: Runtime) -> list[Route]:
    one = BASE + "/{id}"
    return [
        Route(BASE, page(runtime, index), methods=["GET"]),
        Route(f"{BASE}/new", page(runtime, new), methods=["GET"]),
        Route(f"{BASE}/new", form(runtime, create), methods=["POST"]),
        Route(one, page(runtime, details), methods=["GET"]),
        Route(one, form(runtime, update_settings), methods=["POST"]),
        Route(one + "/enabled", form(runtime, set_enabled), methods=["POST"]),
        Route(one + "/signing-key", form(runtime, regenerate_key, destructive=True),
              methods=["POST"]),
        Route(one + "/test", form(runtime, send_test), methods=["POST"]),
        Route(one + "/deliveries/{log_id}", page(runtime, delivery), methods=["GET"]),
        Route(one + "/delete", form(runtime, delete, destructive=True), methods=["POST"]),
    ]  # fmt: skip
