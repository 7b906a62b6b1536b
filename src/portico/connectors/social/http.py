"""Bounded JSON requests to an identity provider.

A provider that hangs, streams forever or answers with megabytes of HTML must cost a sign-in
page a few seconds and a few hundred kilobytes at most, and end in a precise error for the
admin's log (never the body itself, which may carry tokens).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import httpx

from portico.connectors.social.errors import SocialErrorCode, social_error

TIMEOUT = 5.0  # seconds per phase (connect, read, ...), as Logto's connectors use
DEADLINE = 10.0  # seconds for the whole exchange, however slowly bytes trickle in
MAX_BYTES = 256 * 1024  # no user-info or token response is anywhere near this


async def fetch_json(
    method: str,
    url: str,
    *,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    what: str = "provider",
) -> tuple[int, Any]:
    """``(status, parsed JSON)``; raises ``ConnectorError`` on transport failures, bodies
    over :data:`MAX_BYTES` and bodies that are not JSON. HTTP error statuses are returned,
    since what they mean (bad code, expired token) depends on the endpoint."""
    try:
        return await asyncio.wait_for(
            _fetch(method, url, data=data, headers=headers, auth=auth, what=what), DEADLINE
        )
    except TimeoutError:
        raise social_error(
            SocialErrorCode.Unavailable, f"The {what} did not answer in time.", reason="timeout"
        ) from None


async def _fetch(
    method: str,
    url: str,
    *,
    data: dict[str, str] | None,
    headers: dict[str, str] | None,
    auth: tuple[str, str] | None,
    what: str,
) -> tuple[int, Any]:
    request_headers = {"Accept": "application/json", **(headers or {})}
    try:
        async with (
            httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client,
            client.stream(method, url, data=data, headers=request_headers, auth=auth) as response,
        ):
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BYTES:
                    raise social_error(
                        SocialErrorCode.InvalidResponse,
                        f"The {what}'s response exceeded {MAX_BYTES} bytes.",
                        reason="too_large",
                    )
            status = response.status_code
    except httpx.TimeoutException:
        raise social_error(
            SocialErrorCode.Unavailable, f"The {what} did not answer in time.", reason="timeout"
        ) from None
    except httpx.TransportError as exc:
        if _is_tls(exc):
            raise social_error(
                SocialErrorCode.Unavailable,
                f"TLS with the {what} failed (certificate not trusted or handshake refused).",
                reason="tls",
            ) from None
        raise social_error(
            SocialErrorCode.Unavailable,
            f"Could not reach the {what}: {type(exc).__name__}.",
            reason="unreachable",
        ) from None
    try:
        parsed = json.loads(bytes(body).decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise social_error(
            SocialErrorCode.InvalidResponse,
            f"The {what} answered HTTP {status} with a body that is not JSON.",
            reason="not_json",
        ) from None
    return status, parsed


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
