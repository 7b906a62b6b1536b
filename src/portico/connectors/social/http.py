"""Bounded JSON requests to an identity provider: ``connectors/http.py`` with the message a
person on the sign-in page sees when a social sign-in fails."""

from __future__ import annotations

from typing import Any

from portico.connectors import http
from portico.connectors.errors import ConnectorError
from portico.connectors.social.errors import USER_SOCIAL_FAILED

MAX_BYTES = http.MAX_BYTES


async def fetch_json(
    method: str,
    url: str,
    *,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    what: str = "provider",
) -> tuple[int, Any]:
    """``(status, parsed JSON)``; see :func:`portico.connectors.http.fetch_json`."""
    try:
        return await http.fetch_json(method, url, data=data, headers=headers, auth=auth, what=what)
    except ConnectorError as exc:
        raise ConnectorError(
            exc.code, exc.admin_message, USER_SOCIAL_FAILED, reason=exc.reason
        ) from None
