"""``/api/hooks``: webhooks (Logto's paths, bodies, codes). The rules and sending are in
``services/webhooks.py``, delivery in ``services/webhook_delivery.py``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AfterValidator, BaseModel, Field

from portico.services import webhooks as service
from portico.services.errors import ServiceError
from portico.services.webhook_events import HOOK_EVENTS
from portico.storage import webhooks as repo
from portico.storage.database import now_ms
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import Body

DAY_MS = 86400 * 1000
HookEvent = Literal[HOOK_EVENTS]  # type: ignore[valid-type]
Events = Annotated[list[HookEvent], Field(min_length=1, max_length=len(HOOK_EVENTS))]
Headers = Annotated[
    dict[Annotated[str, Field(max_length=256)], Annotated[str, Field(max_length=4096)]],
    Field(max_length=50),
    AfterValidator(service.check_headers),
]


class HookConfig(Body):
    url: Annotated[str, AfterValidator(service.check_url)]
    headers: Headers | None = None
    retries: int | None = Field(None, ge=0, le=3, description="Deprecated; ignored (Logto's)")


class CreateHook(Body):
    name: str | None = Field(None, min_length=1, max_length=256)
    event: HookEvent | None = None
    events: Events | None = None
    config: HookConfig
    enabled: bool | None = None


class UpdateHook(Body):
    name: str | None = Field(None, min_length=1, max_length=256)
    event: HookEvent | None = None
    events: Events | None = None
    config: HookConfig | None = None
    enabled: bool | None = None


class TestHook(Body):
    events: Events
    config: HookConfig


class ExecutionStats(BaseModel):
    requestCount: int
    successCount: int


class HookOut(BaseModel):
    id: str
    name: str
    event: str | None
    events: list[str]
    config: dict[str, Any]
    signingKey: str
    enabled: bool
    createdAt: int
    executionStats: ExecutionStats | None = None


class HookLogOut(BaseModel):
    id: str
    key: str
    payload: dict[str, Any]
    createdAt: int


def _config(config: HookConfig) -> dict[str, Any]:
    return config.model_dump(exclude_none=True)


def _epoch(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15:
        raise ServiceError(f"`{name}` must be epoch milliseconds.", code="request.invalid_input")
    return int(raw)


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Hooks"])
    sealer = service.HookSealer(api.runtime.settings.encryption_key_bytes())

    async def with_stats(rows: list[dict[str, Any]], wanted: bool) -> list[dict[str, Any]]:
        hooks = [service.hook_out(r, sealer) for r in rows]
        if wanted and hooks:
            async with api.read() as conn:
                stats = await repo.execution_stats(
                    conn, api.tenant, [h["id"] for h in hooks], now_ms() - DAY_MS
                )
            for hook in hooks:
                hook["executionStats"] = stats[hook["id"]]
        return hooks

    @router.get("/hooks", response_model=list[HookOut], response_model_exclude_unset=True)
    async def list_hooks(
        request: Request,
        response: Response,
        page: Annotated[Page, Depends(pagination(optional=True))],
        includeExecutionStats: str | None = None,
    ) -> list[dict[str, Any]]:
        """Oldest first; ``includeExecutionStats=true`` adds the last 24 hours' attempts."""
        async with api.read() as conn:
            total, rows = await repo.list_hooks(conn, api.tenant, page.offset, page.limit)
        paginate(request, response, page, total)
        return await with_stats(rows, _yes(includeExecutionStats))

    @router.post("/hooks", response_model=HookOut, status_code=201,
                 response_model_exclude_unset=True)  # fmt: skip
    async def create_hook(body: CreateHook) -> dict[str, Any]:
        """400 ``hook.missing_events`` without ``events`` or ``event``."""
        await service.check_target(body.config.url)
        values = body.model_dump(exclude_none=True)
        values["config"] = _config(body.config)
        async with api.write() as conn:
            row = await service.create(conn, api.tenant, sealer, values)
        return service.hook_out(row, sealer)

    @router.get("/hooks/{id}", response_model=HookOut, response_model_exclude_unset=True)
    async def get_hook(id: str, includeExecutionStats: str | None = None) -> dict[str, Any]:
        async with api.read() as conn:
            row = await service.get(conn, api.tenant, id)
        return (await with_stats([row], bool(includeExecutionStats)))[0]

    @router.patch("/hooks/{id}", response_model=HookOut, response_model_exclude_unset=True)
    async def update_hook(id: str, body: UpdateHook) -> dict[str, Any]:
        """404 ``entity.not_exists``. ``config`` is replaced whole; ``event: null`` clears
        the legacy event."""
        changes = {k: getattr(body, k) for k in body.model_fields_set}
        if "config" in changes:
            if body.config is None:
                raise ServiceError("`config` cannot be null.", code="guard.invalid_input")
            await service.check_target(body.config.url)
            changes["config"] = _config(body.config)
        for name in ("name", "events", "enabled"):
            if name in changes and changes[name] is None:
                raise ServiceError(f"`{name}` cannot be null.", code="guard.invalid_input")
        async with api.write() as conn:
            return service.hook_out(await service.update(conn, api.tenant, id, changes), sealer)

    @router.patch("/hooks/{id}/signing-key", response_model=HookOut,
                  response_model_exclude_unset=True)  # fmt: skip
    async def update_hook_signing_key(id: str) -> dict[str, Any]:
        """A new signing key; deliveries not yet sent are signed with it."""
        async with api.write() as conn:
            return service.hook_out(await service.regenerate_key(conn, api.tenant, sealer, id),
                                    sealer)  # fmt: skip

    @router.delete("/hooks/{id}", status_code=204, response_class=Response)
    async def delete_hook(id: str) -> Response:
        """Its deliveries not yet sent are dropped; its attempts stay in the audit log."""
        async with api.write() as conn:
            await service.delete(conn, api.tenant, id)
        return Response(status_code=204)

    @router.post("/hooks/{id}/test", status_code=204, response_class=Response)
    async def test_hook(id: str, body: TestHook) -> Response:
        """Sends a sample of each event to ``config`` now: 204, or 422
        ``hook.endpoint_responded_with_error`` (``data``: ``responseStatus``,
        ``responseBody``) or ``hook.send_test_payload_failed``."""
        async with api.read() as conn:
            key = await service.signing_key(conn, api.tenant, sealer, id)
        await service.send_test(id, key, list(dict.fromkeys(body.events)), _config(body.config))
        return Response(status_code=204)

    @router.get("/hooks/{id}/recent-logs", response_model=list[HookLogOut])
    async def list_hook_recent_logs(
        request: Request,
        response: Response,
        id: str,
        page: Annotated[Page, Depends(pagination())],
        logKey: Annotated[str | None, Query(max_length=128)] = None,
        start_time: str | None = None,
        end_time: str | None = None,
    ) -> list[dict[str, Any]]:
        """Attempts (``TriggerHook.<event>`` entries), newest first; the last 24 hours unless
        ``start_time`` or ``end_time`` is given."""
        since, until = _epoch(start_time, "start_time"), _epoch(end_time, "end_time")
        if since is not None and until is not None and since > until:
            raise ServiceError("`start_time` is after `end_time`.", code="request.invalid_input")
        if since is None and until is None:
            since = now_ms() - DAY_MS
        async with api.read() as conn:
            total, rows = await repo.recent_logs(
                conn, api.tenant, id, key=logKey, since=since, until=until,
                offset=page.offset or 0, limit=page.size,
            )  # fmt: skip
        paginate(request, response, page, total)
        return [
            {"id": r["id"], "key": r["key"], "payload": r["payload"], "createdAt": r["created_at"]}
            for r in rows
        ]

    return router


def _yes(value: str | None) -> bool:
    """Logto's ``yes()``: true, 1, yes, y (any case)."""
    return (value or "").lower() in ("true", "1", "yes", "y")
