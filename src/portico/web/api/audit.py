"""Every write through the Management API leaves an audit entry, by construction.

Routers are built with ``route_class=AuditedRoute``: for POST, PUT, PATCH and DELETE the route
records ``ManagementApi.<OperationId>`` (``CreateUser``, ``UpdateApplication``...) once the
handler has answered — success with its status, or the error code and message it answered with.
The entry holds the actor (the token's subject), IP, user agent, the route and its path
parameters, and the user or application the write was about; never the request body, where
passwords and secrets travel. Requests without a valid token are not recorded (there is no
actor, and recording them would let anyone fill the table).

The entry is written right after the handler's own transaction commits, before the response
leaves, so a client never sees a success the log does not hold unless the process dies in
between.

The same layer turns writes into webhook data events (``services/webhook_events``): a route
whose operation is one (``CreateUser`` -> ``User.Created``...) opens a ``RequestEvent`` before
its handler, the handler's transaction writes the outbox rows (``ApiContext.write``), and the
response completes them with ``status`` and ``data`` (Logto's response body).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from portico.services import audit, webhook_events
from portico.storage import webhooks as webhook_repo
from portico.web.api.errors import HANDLED, as_api_error
from portico.web.runtime import Runtime

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFIX = "ManagementApi"
log = logging.getLogger("portico.audit")


def client_ip(request: Request) -> str | None:
    """The peer address (uvicorn rewrites it from X-Forwarded-For when proxy headers are
    trusted, see ``trust_proxy_header``)."""
    return request.client.host if request.client else None


def _subject(path: str, params: dict[str, Any], body: Any) -> dict[str, str]:
    """Which user and application a write was about: named in the path, or just created."""
    created = body.get("id") if isinstance(body, dict) else None
    user_id = params.get("userId") or (created if path == "/users" else None)
    app_id = params.get("applicationId") or (
        (params.get("id") or created)
        if path.startswith(("/applications", "/saml-applications"))
        else None
    )
    subject = {}
    if isinstance(user_id, str):
        subject["user_id"] = user_id
    if isinstance(app_id, str):
        subject["application_id"] = app_id
    return subject


def _json_body(response: Response) -> Any:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        return json.loads(bytes(response.body))
    except ValueError:
        return None


def operation_id(route: APIRoute) -> str:
    """Logto-style operation id from the handler's name: ``list_users`` -> ``ListUsers``. The
    API's ``generate_unique_id_function`` too, so swagger.json and audit keys agree."""
    return "".join(part.capitalize() for part in route.name.split("_"))


class AuditedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self.methods & WRITE_METHODS:
            return handler
        key = f"{PREFIX}.{operation_id(self)}"
        route_path = self.path
        event = webhook_events.OPERATION_EVENTS.get(operation_id(self))

        async def audited(request: Request) -> Response:
            pending = await _data_event(request, event, route_path) if event else None
            with webhook_events.request_event(pending):
                return await _handle(request, pending)

        async def _handle(
            request: Request, pending: webhook_events.RequestEvent | None
        ) -> Response:
            try:
                response = await handler(request)
            except HANDLED as exc:
                error = as_api_error(exc)
                assert error is not None
                await _complete(request, pending, error.status, None)
                await _record(
                    request,
                    key,
                    route_path,
                    status=error.status,
                    error={"code": error.code, "message": error.message},
                )
                raise
            except Exception:
                # An unexpected failure (500): recorded without its text, which may hold data.
                await _complete(request, pending, 500, None)
                await _record(
                    request,
                    key,
                    route_path,
                    status=500,
                    error={"code": "unexpected_error", "message": "Internal server error."},
                )
                raise
            body = _json_body(response)
            await _complete(request, pending, response.status_code, body)
            await _record(request, key, route_path, status=response.status_code, body=body)
            return response

        return audited


def _koa_route(route_path: str) -> str:
    """``/users/{userId}`` as Logto's ``matchedRoute`` spells it: ``/users/:userId``."""
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", r":\1", route_path)


async def _data_event(
    request: Request, event: str, route_path: str
) -> webhook_events.RequestEvent | None:
    """The webhook event this request will be if it succeeds (with the user a deletion
    removes, read before it goes)."""
    runtime: Runtime = request.app.state.runtime
    if runtime.engine is None or runtime.provider is None:
        return None
    tenant = runtime.provider.tenant_id
    params = {k: str(v) for k, v in request.path_params.items()}
    context = {
        "path": request.url.path.removeprefix(request.scope.get("root_path", "")),
        "method": request.method,
        "matchedRoute": _koa_route(route_path),
        "params": params,
        "userAgent": request.headers.get("user-agent"),
        "ip": client_ip(request),
    }
    data = None
    if event == "User.Deleted" and "userId" in params:
        async with runtime.engine.connect() as conn:
            user = await webhook_repo.user_row(conn, tenant, params["userId"])
        data = webhook_events.user_info(user) if user else None
    return webhook_events.RequestEvent(tenant, event, context, data)


async def _complete(
    request: Request, pending: webhook_events.RequestEvent | None, status: int, body: Any
) -> None:
    """The held deliveries of this request made due, with its status and response body."""
    if pending is None or not pending.ids:
        return
    runtime: Runtime = request.app.state.runtime
    assert runtime.engine is not None
    try:
        async with runtime.engine.begin() as conn:
            await webhook_events.complete(conn, pending, status, body)
    except Exception:
        # They are committed and will go without ``data`` once their hold runs out.
        log.exception("could not complete webhook deliveries")
        return
    worker = getattr(runtime, "webhooks", None)
    if worker is not None:
        worker.wake()


async def _record(
    request: Request,
    key: str,
    route_path: str,
    *,
    status: int,
    error: dict[str, str] | None = None,
    body: Any = None,
) -> None:
    auth = getattr(request.state, "auth", None)
    if auth is None:
        return
    runtime: Runtime = request.app.state.runtime
    assert runtime.engine is not None and runtime.provider is not None
    params = dict(request.path_params)
    try:
        async with runtime.engine.begin() as conn:
            await audit.record(
                conn,
                runtime.provider.tenant_id,
                key,
                result=audit.LogResult.ERROR if error else audit.LogResult.SUCCESS,
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent"),
                error=error,
                actor={"type": auth.type, "id": auth.id},
                method=request.method,
                path=request.url.path,
                matchedRoute=route_path,
                params=params,
                status=status,
                **_subject(route_path, params, body),
            )
    except Exception:
        # The change itself is done; a failing log write must not turn it into a 500.
        log.exception("could not record audit entry %s", key)
