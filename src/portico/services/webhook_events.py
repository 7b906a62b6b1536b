"""Which changes are webhook events, with Logto's names and payloads, and the one way an
event enters the outbox: :func:`emit`, inside the transaction of the change it reports.

Three sources, one rule each:

* Interaction events (``PostRegister``, ``PostSignIn``, ``PostResetPassword``, and
  ``User.Created`` for an account made at sign-up) come from ``experience/conclusion.py``
  through :func:`emit_interaction`.
* Management API writes are mapped by operation id (:data:`OPERATION_EVENTS`, Logto's
  ``managementApiHooksRegistration`` in Portico's operation names). Logto's payload carries
  the response body as ``data``, which exists only after the handler's transaction has
  committed; so the API route layer opens a :class:`RequestEvent` before the handler, the
  handler's transaction writes the rows *held* (:func:`flush`, due only after
  :data:`HOLD_MS`), and after the response :func:`complete` adds ``status`` and ``data`` and
  makes them due at once. A change that rolls back takes its rows with it; a process that
  dies between the commit and :func:`complete` still has its events delivered, without
  ``data``, once the hold runs out.
* Console writes name the same operations (``Console.audit``) and emit in their own
  transaction through :func:`emit_operation`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import standard_id
from portico.storage import webhooks as repo
from portico.storage.database import now_ms

INTERACTION_EVENTS = ("PostRegister", "PostSignIn", "PostSignInAdaptiveMfaTriggered",
                      "PostResetPassword")  # fmt: skip
DATA_EVENTS = (
    "User.Created", "User.Deleted", "User.Data.Updated", "User.SuspensionStatus.Updated",
    "Role.Created", "Role.Deleted", "Role.Data.Updated", "Role.Scopes.Updated",
    "Scope.Created", "Scope.Deleted", "Scope.Data.Updated",
    "Organization.Created", "Organization.Deleted", "Organization.Data.Updated",
    "Organization.Membership.Updated",
    "OrganizationRole.Created", "OrganizationRole.Deleted", "OrganizationRole.Data.Updated",
    "OrganizationRole.Scopes.Updated",
    "OrganizationScope.Created", "OrganizationScope.Deleted", "OrganizationScope.Data.Updated",
)  # fmt: skip
EXCEPTION_EVENTS = ("Identifier.Lockout", "Message.RateLimited", "Grant.LimitExceeded")
# Logto's ``hookEvents`` (its development-only TrustedDevice events aside): what a hook may
# subscribe to. The exception events come from the sign-in engine (``Identifier.Lockout``,
# ``Message.RateLimited``) and from grant limits (``Grant.LimitExceeded``,
# ``services/user_grants.py``).
HOOK_EVENTS = (*INTERACTION_EVENTS, *DATA_EVENTS, *EXCEPTION_EVENTS)

# The interaction's event -> the hook event its conclusion emits.
BY_INTERACTION = {"Register": "PostRegister", "SignIn": "PostSignIn",
                  "ForgotPassword": "PostResetPassword"}  # fmt: skip

# Management API operation id -> data event (Logto's ``managementApiHooksRegistration``).
OPERATION_EVENTS = {
    "CreateUser": "User.Created",
    "DeleteUser": "User.Deleted",
    "UpdateUser": "User.Data.Updated",
    "UpdateUserCustomData": "User.Data.Updated",
    "UpdateUserProfile": "User.Data.Updated",
    "UpdateUserPassword": "User.Data.Updated",
    "UpdateUserIsSuspended": "User.SuspensionStatus.Updated",
    "CreateRole": "Role.Created",
    "DeleteRole": "Role.Deleted",
    "UpdateRole": "Role.Data.Updated",
    "CreateRoleScope": "Role.Scopes.Updated",
    "DeleteRoleScope": "Role.Scopes.Updated",
    "CreateResourceScope": "Scope.Created",
    "DeleteResourceScope": "Scope.Deleted",
    "UpdateResourceScope": "Scope.Data.Updated",
    "CreateOrganization": "Organization.Created",
    "DeleteOrganization": "Organization.Deleted",
    "UpdateOrganization": "Organization.Data.Updated",
    "CreateOrganizationRole": "OrganizationRole.Created",
    "DeleteOrganizationRole": "OrganizationRole.Deleted",
    "UpdateOrganizationRole": "OrganizationRole.Data.Updated",
    "AddOrganizationRoleScopes": "OrganizationRole.Scopes.Updated",
    "ReplaceOrganizationRoleScopes": "OrganizationRole.Scopes.Updated",
    "DeleteOrganizationRoleScope": "OrganizationRole.Scopes.Updated",
    "CreateOrganizationScope": "OrganizationScope.Created",
    "DeleteOrganizationScope": "OrganizationScope.Deleted",
    "UpdateOrganizationScope": "OrganizationScope.Data.Updated",
}

# A held API event is due after this long even if its response never completed it (the
# process died after the commit): delivered then without ``data``.
HOLD_MS = 30_000

# Logto's ``userInfoSelectFields``: what a payload's ``user`` (or a user event's ``data``) shows.
_USER_FIELDS = (("id", "id"), ("username", "username"), ("primaryEmail", "primary_email"),
                ("primaryPhone", "primary_phone"), ("name", "name"), ("avatar", "avatar"),
                ("customData", "custom_data"), ("identities", "identities"),
                ("lastSignInAt", "last_sign_in_at"), ("createdAt", "created_at"),
                ("updatedAt", "updated_at"), ("profile", "profile"),
                ("isSuspended", "is_suspended"))  # fmt: skip


def user_info(row: dict[str, Any]) -> dict[str, Any]:
    info = {name: row[column] for name, column in _USER_FIELDS}
    info["applicationId"] = None
    return info


def timestamp() -> str:
    """``createdAt`` as Logto writes it (``Date.toISOString()``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def subscribed(hook: dict[str, Any], event: str) -> bool:
    """Logto's match: the ``events`` list, or the legacy single ``event`` when it is empty."""
    events = hook.get("events") or []
    return event in events if events else hook.get("event") == event


async def emit(
    conn: AsyncConnection,
    tenant_id: str,
    event: str,
    payload: dict[str, Any],
    *,
    hold: bool = False,
) -> list[str]:
    """One outbox row per enabled hook subscribed to ``event``, in ``conn``'s transaction;
    their ids. ``payload`` is the body without ``hookId`` (added per hook)."""
    targets = [h["id"] for h in await repo.enabled_hooks(conn, tenant_id) if subscribed(h, event)]
    now = now_ms()
    rows = [
        {
            "tenant_id": tenant_id,
            "id": standard_id(),
            "hook_id": hook_id,
            "event": event,
            "payload": {"hookId": hook_id, **payload, "event": event},
            "status": repo.PENDING,
            "attempts": 0,
            "next_attempt_at": now + HOLD_MS if hold else now,
            "created_at": now,
            "updated_at": now,
        }
        for hook_id in targets
    ]
    await repo.insert_deliveries(conn, rows)
    return [row["id"] for row in rows]


# Interaction events -------------------------------------------------------------------------
async def emit_interaction(
    conn: AsyncConnection,
    tenant_id: str,
    interaction_event: str,
    user_id: str,
    *,
    session_id: str | None,
    application_id: str | None,
    ip: str | None,
    user_agent: str | None,
) -> None:
    """``PostRegister``/``PostSignIn``/``PostResetPassword`` for the user, with Logto's
    interaction payload: the user's public fields and the application's."""
    event = BY_INTERACTION.get(interaction_event)
    hooks = await repo.enabled_hooks(conn, tenant_id)
    if event is None or not any(subscribed(h, event) for h in hooks):
        return  # the sign-in hot path reads one small table and nothing else
    user = await repo.user_row(conn, tenant_id, user_id)
    app = await repo.application_row(conn, tenant_id, application_id) if application_id else None
    payload = {
        "interactionEvent": interaction_event,
        "createdAt": timestamp(),
        "sessionId": session_id,
        "userAgent": user_agent,
        "userId": user_id,
        "userIp": ip,
        "user": user_info(user) if user else None,
        "application": app,
    }
    await emit(conn, tenant_id, event, _present(payload))


async def emit_user_created(
    conn: AsyncConnection,
    tenant_id: str,
    user_id: str,
    *,
    interaction_event: str,
    session_id: str | None,
    ip: str | None,
    user_agent: str | None,
) -> None:
    """``User.Created`` for an account made at sign-up (Logto: ``data`` is the user)."""
    hooks = await repo.enabled_hooks(conn, tenant_id)
    if not any(subscribed(h, "User.Created") for h in hooks):
        return
    user = await repo.user_row(conn, tenant_id, user_id)
    payload = {"createdAt": timestamp(), "userAgent": user_agent, "ip": ip,
               "interactionEvent": interaction_event, "sessionId": session_id,
               "data": user_info(user) if user else None}  # fmt: skip
    await emit(conn, tenant_id, "User.Created", _present(payload))


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# Exception events ----------------------------------------------------------------------------
async def emit_exception(
    conn: AsyncConnection,
    tenant_id: str,
    event: str,
    details: dict[str, Any],
    *,
    ip: str | None,
    user_agent: str | None,
) -> None:
    """``Identifier.Lockout`` (``details``: the identifier's ``type`` and ``value``) or
    ``Message.RateLimited`` (``action``, ``recipient``), with Logto's exception payload;
    nothing unless a hook listens (the engine's refusals stay one small read)."""
    if not any(subscribed(h, event) for h in await repo.enabled_hooks(conn, tenant_id)):
        return
    payload = {"createdAt": timestamp(), "userAgent": user_agent, "ip": ip, **details}
    await emit(conn, tenant_id, event, _present(payload))


# Memberships ----------------------------------------------------------------------------------
MEMBERSHIP_DELTA_CAP = 5000  # Logto's: ids beyond it are left out of one event


async def emit_membership(
    conn: AsyncConnection,
    tenant_id: str,
    organization_id: str,
    *,
    added_users: Sequence[str] = (),
    removed_users: Sequence[str] = (),
    added_applications: Sequence[str] = (),
    removed_applications: Sequence[str] = (),
) -> None:
    """``Organization.Membership.Updated`` with Logto's delta (only the lists that are not
    empty, each capped), for every way members come and go: the Management API and console,
    invitations, and JIT provisioning at sign-in. Nothing when nothing changed."""
    delta = {
        "addedUserIds": list(added_users)[:MEMBERSHIP_DELTA_CAP],
        "removedUserIds": list(removed_users)[:MEMBERSHIP_DELTA_CAP],
        "addedApplicationIds": list(added_applications)[:MEMBERSHIP_DELTA_CAP],
        "removedApplicationIds": list(removed_applications)[:MEMBERSHIP_DELTA_CAP],
    }
    delta = {k: v for k, v in delta.items() if v}
    if not delta:
        return
    event = "Organization.Membership.Updated"
    if not any(subscribed(h, event) for h in await repo.enabled_hooks(conn, tenant_id)):
        return
    payload = {"createdAt": timestamp(), "organizationId": organization_id, **delta}
    await emit(conn, tenant_id, event, payload)


# Management API and console events ----------------------------------------------------------
@dataclass
class RequestEvent:
    """A Management API write that is a data event, from before its handler runs until its
    response is known."""

    tenant_id: str
    event: str
    context: dict[str, Any]  # path, method, matchedRoute, params, userAgent, ip
    data: Any = None  # known beforehand (the user a deletion removes)
    ids: list[str] = field(default_factory=list)
    flushed: bool = False


_request: ContextVar[RequestEvent | None] = ContextVar("portico_webhook_request", default=None)


@contextlib.contextmanager
def request_event(event: RequestEvent | None) -> Iterator[RequestEvent | None]:
    token = _request.set(event)
    try:
        yield event
    finally:
        _request.reset(token)


async def flush(conn: AsyncConnection) -> None:
    """Called at the end of the request's write transaction (``ApiContext.write``): the held
    rows of the request's event, once per request."""
    pending = _request.get()
    if pending is None or pending.flushed:
        return
    pending.flushed = True
    payload = {"createdAt": timestamp(), **pending.context}
    if pending.data is not None:
        payload["data"] = pending.data
    pending.ids = await emit(conn, pending.tenant_id, pending.event, _present(payload), hold=True)


async def complete(conn: AsyncConnection, pending: RequestEvent, status: int, body: Any) -> None:
    """After the response: ``status`` and, unless already set, ``data`` (Logto's response
    body), and the rows are due now."""
    if not pending.ids:
        return
    now = now_ms()
    for row in await repo.deliveries(conn, pending.ids):
        payload = {**row["payload"], "status": status}
        if body is not None and "data" not in payload:
            payload["data"] = body
        await repo.release(conn, row["id"], payload, now)


async def emit_operation(
    conn: AsyncConnection,
    tenant_id: str,
    operation: str,
    context: dict[str, Any],
    *,
    user_id: str | None = None,
) -> None:
    """The console's writes: the event of ``operation``, if it is one, with ``data`` the
    user's public fields for user events (the console has no response body to send)."""
    event = OPERATION_EVENTS.get(operation)
    if event is None:
        return
    payload = {"createdAt": timestamp(), **context}
    if user_id and event.startswith("User."):
        user = await repo.user_row(conn, tenant_id, user_id)
        if user is not None:
            payload["data"] = user_info(user)
    await emit(conn, tenant_id, event, _present(payload))
