"""Bounded HTTP calls from a connector to a remote service (identity or SMS provider).

A provider that hangs, streams forever or answers with megabytes of HTML must cost a sign-in
page a few seconds and a few hundred kilobytes at most, and end in a precise error for the
admin's log (never the body itself, which may carry tokens or the code). Every failure is a
``ConnectorError`` with Logto's code: ``connector.general`` (timeout, TLS, unreachable) or
``connector.invalid_response`` (too large, not JSON); HTTP error statuses are returned, since
what they mean depends on the endpoint.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator

from portico.connectors.errors import ConnectorError

TIMEOUT = 5.0  # seconds per phase (connect, read, ...), as Logto's connectors use
DEADLINE = 10.0  # seconds for the whole exchange, however slowly bytes trickle in
MAX_BYTES = 256 * 1024  # no token, user-info or send response is anywhere near this
GENERAL = "connector.general"
INVALID_RESPONSE = "connector.invalid_response"


def https_or_loopback(url: str) -> str:
    """Provider endpoints carry codes, tokens and credentials: https, except on a loopback
    host (a local fake provider in tests, a sidecar)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and loopback:
        return url
    raise ValueError("must be an https URL (http only for localhost)")


ProviderUrl = Annotated[str, AfterValidator(https_or_loopback)]


async def fetch(
    method: str,
    url: str,
    *,
    data: dict[str, str] | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    what: str = "provider",
) -> tuple[int, bytes]:
    """``(status, body)`` of one request (a form in ``data`` or raw ``content``), redirects
    not followed, within :data:`DEADLINE` and :data:`MAX_BYTES`."""
    try:
        return await asyncio.wait_for(
            _fetch(method, url, data, content, headers or {}, auth, what), DEADLINE
        )
    except TimeoutError:
        raise _failure(GENERAL, f"The {what} did not answer in time.", "timeout") from None


async def fetch_json(
    method: str,
    url: str,
    *,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    what: str = "provider",
) -> tuple[int, Any]:
    """``(status, parsed JSON or None for an empty body)``; a body that is not JSON is
    ``connector.invalid_response``."""
    status, body = await fetch(
        method,
        url,
        data=data,
        headers={"Accept": "application/json", **(headers or {})},
        auth=auth,
        what=what,
    )
    try:
        return status, json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise _failure(
            INVALID_RESPONSE,
            f"The {what} answered HTTP {status} with a body that is not JSON.",
            "not_json",
        ) from None


def _failure(code: str, admin_message: str, reason: str) -> ConnectorError:
    return ConnectorError(code, admin_message, reason=reason)


async def _fetch(
    method: str,
    url: str,
    data: dict[str, str] | None,
    content: bytes | None,
    headers: dict[str, str],
    auth: tuple[str, str] | None,
    what: str,
) -> tuple[int, bytes]:
    import httpx  # here, not at the top: a server whose connectors never call out saves ~5 MB

    try:
        async with (
            httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client,
            client.stream(
                method, url, data=data, content=content, headers=headers, auth=auth
            ) as response,
        ):
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BYTES:
                    raise _failure(
                        INVALID_RESPONSE,
                        f"The {what}'s response exceeded {MAX_BYTES} bytes.",
                        "too_large",
                    )
            return response.status_code, bytes(body)
    except httpx.TimeoutException:
        raise _failure(GENERAL, f"The {what} did not answer in time.", "timeout") from None
    except httpx.TransportError as exc:
        if _is_tls(exc):
            raise _failure(
                GENERAL,
                f"TLS with the {what} failed (certificate not trusted or handshake refused).",
                "tls",
            ) from None
        raise _failure(
            GENERAL, f"Could not reach the {what}: {type(exc).__name__}.", "unreachable"
        ) from None


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
