"""Bounded HTTP calls from a connector to a remote service (identity or SMS provider).

A provider that hangs, streams forever or answers with megabytes of HTML must cost a sign-in
page a few seconds and a few hundred kilobytes at most, and end in a precise error for the
admin's log (never the body itself, which may carry tokens or the code). Every failure is a
``ConnectorError`` with Logto's code: ``connector.general`` (timeout, TLS, unreachable, a
target the guard refuses) or ``connector.invalid_response`` (too large, not JSON); HTTP error
statuses are returned, since what they mean depends on the endpoint.

Every request goes through the outgoing-request guard (``portico.net.outbound``): a provider URL
that is, or resolves to, an internal address (loopback, private, link-local, cloud metadata...)
is refused when the configuration is saved and again, after DNS, when it is called, unless
``PORTICO_ALLOW_PRIVATE_TARGETS`` allows it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from typing import Annotated, Any, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel
from pydantic.fields import FieldInfo

from portico.connectors.errors import ConnectorError, invalid_config
from portico.net import outbound

TIMEOUT = 5.0  # seconds per phase (connect, read, ...), as Logto's connectors use
DEADLINE = 10.0  # seconds for the whole exchange, however slowly bytes trickle in
MAX_BYTES = 256 * 1024  # no token, user-info or send response is anywhere near this
GENERAL = "connector.general"
INVALID_RESPONSE = "connector.invalid_response"
SAVE_DNS_TIMEOUT = 3.0  # seconds to look a provider's name up when its configuration is saved


def https_or_loopback(url: str) -> str:
    """Provider endpoints carry codes, tokens and credentials: https, except on a loopback
    host (a local fake provider in tests, a sidecar). Where the URL may point is the guard's
    rule (``portico.net.outbound.check_url``, no DNS here: this runs on every use of a
    configuration): an internal address only when ``PORTICO_ALLOW_PRIVATE_TARGETS`` allows it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an https URL (http only for a loopback host)")
    try:
        outbound.check_url(url)
    except outbound.TargetRefused as exc:
        raise ValueError(str(exc)) from None
    if parts.scheme == "https" or outbound.is_loopback_host(parts.hostname):
        return url
    raise ValueError("must be an https URL (http only for a loopback host)")


class _OutgoingUrl:
    """Marks a config field whose URL Portico calls, for :func:`check_provider_urls`."""


OUTGOING_URL = _OutgoingUrl()
ProviderUrl = Annotated[str, AfterValidator(https_or_loopback), OUTGOING_URL]


async def check_provider_urls(config: BaseModel) -> None:
    """When a configuration is saved: look up every :data:`ProviderUrl` of ``config`` and
    refuse the save (``connector.invalid_config``, one ``{path, message}`` per field) when a
    name resolves to an internal address. A name that does not resolve now passes: the
    request is checked again, after its own lookup, whenever it is made."""
    urls = list(_provider_urls(config))
    results = await asyncio.gather(
        *(outbound.check_target(url, timeout=SAVE_DNS_TIMEOUT) for _, url in urls),
        return_exceptions=True,
    )
    errors = [
        {"path": path, "message": str(result)}
        for (path, _), result in zip(urls, results, strict=True)
        if isinstance(result, outbound.TargetRefused)
    ]
    for result in results:
        if isinstance(result, BaseException) and not isinstance(
            result, outbound.TargetRefused | outbound.UnresolvedTarget | TimeoutError
        ):
            raise result
    if errors:
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
        raise invalid_config(f"Invalid connector configuration: {summary}", errors)


def _provider_urls(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(path, url)`` of each field declared :data:`ProviderUrl`, nested models included;
    not a connector's own default (``https://api.github.com``), which no admin chose."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        path = f"{prefix}{field.alias or name}"
        if isinstance(value, BaseModel):
            yield from _provider_urls(value, f"{path}.")
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _provider_urls(item, f"{path}.{index}.")
        elif isinstance(value, str) and value != field.default and _is_outgoing(field):
            yield path, value


def _is_outgoing(field: FieldInfo) -> bool:
    def marked(annotation: Any) -> bool:
        if get_origin(annotation) is Annotated and OUTGOING_URL in annotation.__metadata__:
            return True
        return any(marked(argument) for argument in get_args(annotation))

    return OUTGOING_URL in field.metadata or marked(field.annotation)


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
            outbound.guarded_client(timeout=TIMEOUT, follow_redirects=False) as client,
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
    except outbound.TargetRefused as exc:
        raise _failure(
            GENERAL, f"Portico refused to call the {what}: {exc}.", "target_refused"
        ) from None
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
