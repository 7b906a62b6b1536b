"""Webhooks (Logto's ``/api/hooks``): the rules for a hook, its sealed signing key, and one
signed request to its endpoint.

A hook's URL is where an admin makes Portico send user data, so it follows the outgoing
request rules (``net/outbound``): https, except for a host ``PORTICO_ALLOW_PRIVATE_TARGETS``
lists (a receiver on loopback in development and tests); internal addresses refused after
DNS resolution at every request; redirects never followed (a 3xx is a failed delivery).

The body is signed as Logto signs it: ``logto-signature-sha-256`` is the hex HMAC-SHA256 of
the exact bytes sent, keyed with the hook's signing key, so a receiver verifies the raw body.
Each delivery also carries its id in ``idempotency-key``: delivery is at least once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import standard_id, standard_secret
from portico.net import outbound
from portico.services.errors import NotFound, ServiceError
from portico.services.webhook_events import HOOK_EVENTS
from portico.storage import webhooks as repo
from portico.storage.database import now_ms

SIGNATURE_HEADER = "logto-signature-sha-256"
IDEMPOTENCY_HEADER = "idempotency-key"
USER_AGENT = "Portico webhooks"
TIMEOUT = 10.0  # seconds per phase, Logto's webhook timeout
DEADLINE = 15.0  # seconds for the whole exchange
MAX_RESPONSE = 64 * 1024  # bytes of a response read (and at most 4 KiB kept in the log)
KEPT_RESPONSE = 4096
# Headers Portico sets itself: a hook's custom headers may not replace them.
RESERVED_HEADERS = frozenset(
    {SIGNATURE_HEADER, IDEMPOTENCY_HEADER, "content-type", "content-length", "host",
     "transfer-encoding", "connection"}
)  # fmt: skip
RETRY_STATUSES = frozenset({408, 413, 429, 500, 502, 503, 504})


# Rules ---------------------------------------------------------------------------------------
def check_url(url: str) -> str:
    """https, or http for a host the allow-list names; never an internal address it does not
    list (no DNS here: :func:`check_target` resolves when a hook is saved)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2048:
        raise ValueError("must be an absolute https URL")
    try:
        outbound.check_url(url)
    except outbound.TargetRefused as exc:
        raise ValueError(str(exc)) from None
    if parts.scheme == "http" and not _allowed_host(parts.hostname):
        raise ValueError(f"must be an https URL (http only for a host {outbound.SETTING} lists)")
    return url


def _allowed_host(host: str) -> bool:
    allow = outbound.current_allow_list()
    address = outbound.literal_address(host)
    return allow.allows_host(host) or (address is not None and allow.covers(address))


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not name or any(c in name for c in "\r\n:\0 ") or not name.isascii():
            raise ValueError(f"{name!r} is not a header name")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"the value of {name!r} holds a line break")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"{name!r} is set by Portico")
    return headers


async def check_target(url: str) -> None:
    """The URL's name resolved now: refused if it leads to an internal address (400)."""
    try:
        await outbound.check_target(url, timeout=3.0)
    except outbound.TargetRefused as exc:
        raise ServiceError(str(exc), code="guard.invalid_input") from None
    except (outbound.UnresolvedTarget, TimeoutError):
        pass  # a name that does not resolve yet is checked again at each delivery


# Signing keys --------------------------------------------------------------------------------
class HookSealer:
    """Signing keys sealed with the server's encryption key (AES-256-GCM, as connector
    secrets), bound to tenant and hook: a key copied to another row does not open."""

    _PATH = ("signingKey",)

    def __init__(self, encryption_key: bytes) -> None:
        from portico.connectors.secrets import Sealer

        self._sealer = Sealer(encryption_key)

    def seal(self, tenant_id: str, hook_id: str, key: str) -> dict[str, Any]:
        return self._sealer.seal({"signingKey": key}, {self._PATH}, f"hook:{tenant_id}:{hook_id}")

    def open(self, tenant_id: str, hook_id: str, sealed: dict[str, Any]) -> str:
        """The key; a :class:`ServiceError` when this server's encryption key cannot open it."""
        from portico.connectors.errors import ConnectorError

        try:
            opened = self._sealer.open(sealed, {self._PATH}, f"hook:{tenant_id}:{hook_id}")
        except (ConnectorError, ValueError):
            raise ServiceError(
                "The hook's signing key cannot be opened with this server's encryption key "
                "(PORTICO_ENCRYPTION_KEY); regenerate it.",
                code="hook.signing_key_unreadable",
                status=500,
            ) from None
        return str(opened["signingKey"])


# Hooks ---------------------------------------------------------------------------------------
def hook_out(row: dict[str, Any], sealer: HookSealer) -> dict[str, Any]:
    """Logto's ``Hook``; the signing key is shown, as Logto's API shows it."""
    return {
        "id": row["id"],
        "name": row["name"],
        "event": row["event"],
        "events": row["events"],
        "config": row["config"],
        "signingKey": sealer.open(row["tenant_id"], row["id"], row["signing_key"]),
        "enabled": row["enabled"],
        "createdAt": row["created_at"],
    }


async def get(conn: AsyncConnection, tenant_id: str, hook_id: str) -> dict[str, Any]:
    row = await repo.get_hook(conn, tenant_id, hook_id)
    if row is None:
        raise NotFound("hook", hook_id)
    return row


async def create(
    conn: AsyncConnection, tenant_id: str, sealer: HookSealer, values: dict[str, Any]
) -> dict[str, Any]:
    """``values``: name, events or event, config, enabled (checked by the API's body)."""
    events, event = values.get("events"), values.get("event")
    if not events and not event:
        raise ServiceError("Please provide at least one event.", code="hook.missing_events")
    hook_id = standard_id()
    row = {
        "tenant_id": tenant_id,
        "id": hook_id,
        "name": values.get("name") or "",
        "event": event,
        "events": list(dict.fromkeys(events or [])),
        "config": values["config"],
        "signing_key": sealer.seal(tenant_id, hook_id, standard_secret()),
        "enabled": values.get("enabled", True) is not False,
        "created_at": now_ms(),
    }
    await repo.insert_hook(conn, row)
    return row


def _missing(hook_id: str) -> ServiceError:
    """Logto answers an update of an unknown hook with ``entity.not_exists``."""
    return ServiceError(
        f"The hook with ID `{hook_id}` does not exist.", code="entity.not_exists", status=404
    )


async def update(
    conn: AsyncConnection, tenant_id: str, hook_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    """Replace the members given (Logto's ``replace`` mode: ``config`` as a whole)."""
    changes = dict(values)
    if "events" in changes:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    if changes and not await repo.update_hook(conn, tenant_id, hook_id, changes):
        raise _missing(hook_id)
    row = await repo.get_hook(conn, tenant_id, hook_id)
    if row is None:
        raise _missing(hook_id)
    return row


async def regenerate_key(
    conn: AsyncConnection, tenant_id: str, sealer: HookSealer, hook_id: str
) -> dict[str, Any]:
    sealed = sealer.seal(tenant_id, hook_id, standard_secret())
    return await update(conn, tenant_id, hook_id, {"signing_key": sealed})


async def delete(conn: AsyncConnection, tenant_id: str, hook_id: str) -> None:
    """The hook and its pending deliveries (its attempts stay in the audit log)."""
    if not await repo.delete_hook(conn, tenant_id, hook_id):
        raise NotFound("hook", hook_id)


# Sending -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    """What one request came to: a 2xx is ``ok``; ``retryable`` failures are tried again."""

    status: int | None = None
    body: Any = None
    error: str | None = None
    duration_ms: int = 0
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def sign(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    """The body as ``JSON.stringify`` writes it, so Logto's verification samples work."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


async def send(
    config: dict[str, Any], payload: dict[str, Any], key: str, delivery_id: str | None = None
) -> Attempt:
    """POST ``payload`` to the hook's URL, signed with ``key``; never raises."""
    body = encode(payload)
    headers = {"user-agent": USER_AGENT, **(config.get("headers") or {}),
               "content-type": "application/json", SIGNATURE_HEADER: sign(key, body)}  # fmt: skip
    if delivery_id:
        headers[IDEMPOTENCY_HEADER] = delivery_id
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        url = check_url(str(config.get("url", "")))
        status, text = await asyncio.wait_for(_post(url, body, headers), DEADLINE)
    except (ValueError, outbound.TargetRefused) as exc:
        return Attempt(error=str(exc), duration_ms=took())
    except (TimeoutError, OSError, outbound.UnresolvedTarget) as exc:
        return Attempt(error=str(exc) or type(exc).__name__, duration_ms=took(), retryable=True)
    except Exception as exc:  # httpx's errors (imported lazily): transport, protocol
        return Attempt(error=str(exc) or type(exc).__name__, duration_ms=took(), retryable=True)
    error = None if 200 <= status < 300 else f"The endpoint answered {status}."
    return Attempt(status, _parsed(text), error, took(), status in RETRY_STATUSES)


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        outbound.guarded_client(timeout=TIMEOUT, follow_redirects=False) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        received = b""
        async for chunk in response.aiter_bytes():
            received += chunk
            if len(received) >= MAX_RESPONSE:
                break
        return response.status_code, received[:KEPT_RESPONSE].decode(errors="replace")


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


# "Send test" (POST /api/hooks/:id/test) ------------------------------------------------------
def test_payload(hook_id: str, event: str) -> dict[str, Any]:
    """A sample of ``event``'s payload with made-up values."""
    from portico.services.webhook_events import INTERACTION_EVENTS, timestamp

    now = now_ms()
    base = {"hookId": hook_id, "event": event, "createdAt": timestamp(),
            "userAgent": "sample-user-agent"}  # fmt: skip
    if event in INTERACTION_EVENTS:
        user: dict[str, Any] = {
                "id": "sample-user", "username": "sample", "primaryEmail": "sample@example.com",
                "primaryPhone": None, "name": "Sample User", "avatar": None, "customData": {},
                "identities": {}, "profile": {}, "applicationId": None, "isSuspended": False,
                "lastSignInAt": now, "createdAt": now, "updatedAt": now}  # fmt: skip
        application = {"id": "sample-app", "type": "SPA", "name": "Sample application",
                       "description": None}  # fmt: skip
        return {**base, "sessionId": "sample-session", "userIp": "192.0.2.1",
                "userId": user["id"], "user": user, "application": application}  # fmt: skip
    return {**base, "path": "/sample/:id", "method": "POST", "status": 200,
            "params": {"id": "sample"}, "data": {"result": "success"}}  # fmt: skip


async def signing_key(
    conn: AsyncConnection, tenant_id: str, sealer: HookSealer, hook_id: str
) -> str:
    """The hook's key in clear (404 for an unknown hook)."""
    return sealer.open(tenant_id, hook_id, (await get(conn, tenant_id, hook_id))["signing_key"])


async def send_test(hook_id: str, key: str, events: list[str], config: dict[str, Any]) -> None:
    """Send a sample of each event to ``config`` now, signed with the hook's ``key`` (Logto's
    ``triggerTestHook``): 422 with the endpoint's answer, or with why nothing was sent. Not
    an outbox delivery: the admin waits for the answer."""
    for event in events:
        attempt = await send(config, test_payload(hook_id, event), key)
        if attempt.status is not None and not attempt.ok:
            body = attempt.body if isinstance(attempt.body, str) else json.dumps(attempt.body)
            raise ServiceError(
                "The endpoint responded with an error.",
                code="hook.endpoint_responded_with_error",
                status=422,
                data={"responseStatus": attempt.status, "responseBody": body},
            )
        if attempt.status is None:
            raise ServiceError(
                attempt.error or "Unknown error", code="hook.send_test_payload_failed", status=422
            )


__all__ = ["HOOK_EVENTS", "Attempt", "HookSealer", "send", "send_test", "sign"]
