"""The audit log: who did what, from where, and whether it worked — never a secret.

:func:`entry` is the one way to build an entry; :func:`record` writes it in the caller's
transaction (sign-in pages, Management API writes), and the token endpoint hands it to the
process's :class:`~portico.services.audit_buffer.AuditBuffer`, which writes in batches.
Entries have Logto's shape (``logs`` table: ``key`` + JSON ``payload`` with ``result``,
``ip``, ``userAgent``, ``userId``, ``applicationId``, ``error``...) so that Logto's console
filters and scripts read them.

Keys in use (Logto's where Logto has one):

* ``ExchangeTokenBy.AuthorizationCode|RefreshToken|ClientCredentials|Unknown`` — the token
  endpoint, success or error (``web/oidc_routes.py``).
* ``Interaction.<SignIn|Register|ForgotPassword>.Submit``,
  ``Interaction.<Event>.Verification.<Password|EmailVerificationCode|...>.Submit`` — the
  sign-in pages (hooked by the pages' owner).
* ``ManagementApi.<OperationId>`` — every write through ``/api`` (``web/api/audit.py``); Logto
  keeps no such entries, its webhooks come closest.

Only facts are stored: ids, the result, an error code and message. Extra payload keys that
name a credential (``password``, ``code``, ``client_secret``, ``refresh_token``...) are dropped
whatever their value, so a careless caller cannot leak one into the log.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import standard_id
from portico.storage import logs as repo
from portico.storage.database import now_ms


class LogResult(StrEnum):
    SUCCESS = "Success"
    ERROR = "Error"


_CREDENTIAL_NAMES = frozenset(
    {
        "accesstoken",
        "actortoken",
        "assertion",
        "authorization",
        "clientassertion",
        "code",
        "codeverifier",
        "cookie",
        "devicecode",
        "idtoken",
        "refreshtoken",
        "subjecttoken",
        "token",
        "verificationcode",
    }
)
_CREDENTIAL_WORDS = re.compile("password|secret|privatekey", re.IGNORECASE)
MAX_USER_AGENT = 512
MAX_ID_COLUMN = 128


@functools.lru_cache(maxsize=1024)
def _is_credential(name: str) -> bool:
    """Cached: the same few key names come by on every entry (a tenth of a token request's
    CPU went to this test)."""
    plain = name.replace("_", "").replace("-", "").lower()
    return plain in _CREDENTIAL_NAMES or bool(_CREDENTIAL_WORDS.search(plain))


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if not _is_credential(str(k))}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def entry(
    tenant_id: str,
    key: str,
    *,
    result: LogResult = LogResult.SUCCESS,
    user_id: str | None = None,
    application_id: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    error: dict[str, Any] | None = None,
    **details: Any,
) -> dict[str, Any]:
    """The row of one entry, credentials dropped (written by :func:`record` or a
    :class:`~portico.services.audit_buffer.AuditBuffer`).

    ``error`` is ``{"code": ..., "message": ...}`` (never the request that failed);
    ``details`` are further payload members in camelCase (``params``, ``interactionEvent``...).
    """
    payload: dict[str, Any] = {
        **_scrub({k: v for k, v in details.items() if v is not None}),
        "key": key,
        "result": result.value,
    }
    for name, value in (
        ("ip", ip),
        ("userAgent", user_agent[:MAX_USER_AGENT] if user_agent else None),
        ("userId", user_id),
        ("applicationId", application_id),
        ("error", error),
    ):
        if value is not None:
            payload[name] = value
    return {
        "tenant_id": tenant_id,
        "id": standard_id(),
        "key": key[:128],
        "payload": payload,
        "user_id": user_id if user_id and len(user_id) <= MAX_ID_COLUMN else None,
        "application_id": (
            application_id if application_id and len(application_id) <= MAX_ID_COLUMN else None
        ),
        "created_at": now_ms(),
    }


async def record(conn: AsyncConnection, tenant_id: str, key: str, **fields: Any) -> dict[str, Any]:
    """Write one entry inside the caller's transaction and return the stored row: it
    commits or rolls back with the change it describes (see :func:`entry` for the fields)."""
    row = entry(tenant_id, key, **fields)
    await repo.insert_logs(conn, [row])
    return row


# Facts learnt deep in a call (the user behind a refresh token, the client that authenticated)
# that the code writing the entry cannot see: it opens ``collecting()``, the deep code calls
# ``note(...)``, and the collected facts go to ``record(**facts)``. Outside ``collecting()``
# ``note`` does nothing.
_facts: ContextVar[dict[str, Any] | None] = ContextVar("portico_audit_facts", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[dict[str, Any]]:
    facts: dict[str, Any] = {}
    token = _facts.set(facts)
    try:
        yield facts
    finally:
        _facts.reset(token)


def note(**facts: Any) -> None:
    """Add ``record`` keyword arguments (``user_id=...``) to the entry being collected."""
    current = _facts.get()
    if current is not None:
        current.update({k: v for k, v in facts.items() if v is not None})
