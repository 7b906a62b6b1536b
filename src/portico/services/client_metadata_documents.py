"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as Logto
offers it): a client with no registration whose ``client_id`` is an https URL where its
metadata is published. Off by default (the tenant config ``cimd``: ``{"enabled": false}``).

Such a client is public (``token_endpoint_auth_method: none``) or authenticates with its own
keys (``private_key_jwt``); it never has a secret. It is always third-party: the user is asked
to consent every time (nothing is remembered for an application nobody registered), and it
gets OpenID Connect scopes only, never an API resource or organizations (Logto caps those by
tenant-wide ceilings an admin sets; Portico offers none yet).

The document is fetched under the private-target rules (``net.outbound``), without
redirects, with a short timeout and a 5 KiB limit, and kept as its ``Cache-Control`` says
(30 s to a day). A failed fetch is remembered for 30 s, and at most a few fetches run at
once, so that client ids cannot make this server a request amplifier.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.net import outbound
from portico.services.applications import (
    AppType,
    Client,
    InvalidApplication,
    build_oidc_metadata,
    client_from_rows,
)
from portico.storage import configs

CONFIG_KEY = "cimd"
MAX_URL = 2048
MAX_BODY = 5 * 1024
TIMEOUT = 2.5
MIN_TTL, MAX_TTL = 30, 86_400
FAILURE_TTL = 30
MAX_CACHED = 100
MAX_FETCHES = 4
AUTH_METHODS = ("none", "private_key_jwt")
# Web URIs a document may hold: https only (draft §4.1).
HTTPS_MEMBERS = ("backchannel_logout_uri", "client_uri", "initiate_login_uri", "jwks_uri",
                 "logo_uri", "policy_uri", "sector_identifier_uri", "tos_uri")  # fmt: skip
# Logto's own application settings: a document may not set them (Logto refuses them too).
PRIVATE_MEMBERS = ("corsAllowedOrigins", "idTokenTtl", "refreshTokenTtl", "refreshTokenTtlInDays",
                   "tenantId", "alwaysIssueRefreshToken", "rotateRefreshToken",
                   "allowTokenExchange", "isDeviceFlow", "maxAllowedGrants",
                   "appLevelAccessControlEnabled")  # fmt: skip
# Registration names (RFC 7591) of what a document may say, as Logto's application settings.
CAMEL_MEMBERS = {
    "backchannel_logout_uri": "backchannelLogoutUri",
    "backchannel_logout_session_required": "backchannelLogoutSessionRequired",
    "logo_uri": "logoUri",
    "jwks": "jwks",
    "jwks_uri": "jwksUri",
    "id_token_signed_response_alg": "idTokenSignedResponseAlg",
}
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


class InvalidClientDocument(Exception):
    """The client id or its document cannot make a client: ``error`` is the OAuth code
    (``invalid_client``, ``invalid_client_metadata`` or ``invalid_redirect_uri``)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def is_document_url(client_id: str) -> bool:
    return client_id[:8].lower() == "https://"


def check_url(client_id: str) -> None:
    """Draft §3: an https URL with a host and a path, no fragment, userinfo or dot segments
    (encoded ones included), no spaces, controls or backslashes, at most 2048 characters."""
    if len(client_id) > MAX_URL:
        raise InvalidClientDocument("invalid_client", "client_id must not exceed 2048 characters")
    parts = urlsplit(client_id)
    segments = unquote(parts.path).split("/")
    if (
        parts.scheme != "https"
        or not parts.hostname
        or parts.fragment
        or "#" in client_id
        or "@" in parts.netloc
        or _UNSAFE.search(client_id)
        or any(s in (".", "..") for s in segments)
    ):
        raise InvalidClientDocument("invalid_client", "client_id is not a valid metadata URL")


async def enabled(conn: AsyncConnection, tenant_id: str) -> bool:
    stored = await configs.get(conn, tenant_id, CONFIG_KEY)
    return bool(isinstance(stored, dict) and stored.get("enabled") is True)


async def set_enabled(conn: AsyncConnection, tenant_id: str, on: bool) -> dict[str, Any]:
    stored = await configs.get(conn, tenant_id, CONFIG_KEY, for_update=True)
    merged = {**(stored if isinstance(stored, dict) else {}), "enabled": on}
    await configs.put(conn, tenant_id, CONFIG_KEY, merged)
    return merged


def client_from_document(url: str, document: Any) -> Client:
    """The client a document describes, checked as the draft and Logto do."""
    if not isinstance(document, dict):
        raise InvalidClientDocument("invalid_client_metadata", "the document is not an object")
    if document.get("client_id") != url:
        raise InvalidClientDocument(
            "invalid_client_metadata", "the document's client_id must be its URL, exactly"
        )
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise InvalidClientDocument(
            "invalid_client_metadata", "a client metadata document must not hold a secret"
        )
    for member in PRIVATE_MEMBERS:
        if member in document:
            raise InvalidClientDocument(
                "invalid_client_metadata",
                f"the document must not contain Logto private metadata ({member})",
            )
    method = document.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise InvalidClientDocument(
            "invalid_client_metadata", "token_endpoint_auth_method must be none or private_key_jwt"
        )
    for member in HTTPS_MEMBERS:
        value = document.get(member)
        if value is not None and not (isinstance(value, str) and value.startswith("https://")):
            raise InvalidClientDocument("invalid_client_metadata", f"{member} must be an https URL")
    redirect_uris = document.get("redirect_uris")
    if not _strings(redirect_uris) or not redirect_uris:
        raise InvalidClientDocument("invalid_redirect_uri", "redirect_uris must be a list of URLs")
    post_logout = document.get("post_logout_redirect_uris", [])
    if not _strings(post_logout):
        raise InvalidClientDocument(
            "invalid_client_metadata", "post_logout_redirect_uris must be a list of URLs"
        )
    # Public: a native app's rules (custom schemes, any loopback port); with keys: a web app's.
    app_type = AppType.NATIVE if method == "none" else AppType.TRADITIONAL
    metadata: dict[str, Any] = {"redirectUris": redirect_uris,
                                "postLogoutRedirectUris": post_logout}  # fmt: skip
    for member, camel in CAMEL_MEMBERS.items():
        if document.get(member) is not None:
            metadata[camel] = document[member]
    if method == "private_key_jwt":
        metadata["tokenEndpointAuthMethod"] = method
    try:
        built = build_oidc_metadata(app_type, metadata)
    except InvalidApplication as problem:
        error = "invalid_redirect_uri" if "redirect URI" in problem.message else (
            "invalid_client_metadata")  # fmt: skip
        raise InvalidClientDocument(error, problem.message) from None
    host = urlsplit(url).hostname or url
    name = document.get("client_name")
    label = f"{name.strip()[:200]} ({host})" if isinstance(name, str) and name.strip() else host
    row = {"id": url, "name": label, "type": app_type.value, "oidc_client_metadata": built,
           "custom_client_metadata": {}, "is_third_party": True}  # fmt: skip
    client = client_from_rows(row, [])
    return replace(client, metadata_document=True)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= 100 and all(isinstance(v, str) for v in value)


def _ttl(cache_control: str | None) -> int:
    """``max-age`` of the answer, within 30 s and a day (30 s without one)."""
    match = re.search(r"max-age=(\d+)", cache_control or "")
    seconds = int(match.group(1)) if match else MIN_TTL
    return max(MIN_TTL, min(MAX_TTL, seconds))


class DocumentCache:
    """Resolved clients by URL, each until its document's lifetime ends; one fetch at a
    time per URL, a few at once in all."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Client | InvalidClientDocument]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._fetches = asyncio.Semaphore(MAX_FETCHES)

    async def client(self, url: str) -> Client:
        """The client ``url`` names; :class:`InvalidClientDocument` if it cannot be had."""
        check_url(url)
        found = self._fresh(url)
        if found is None:
            lock = self._locks.setdefault(url, asyncio.Lock())
            async with lock:
                found = self._fresh(url)
                if found is None:
                    found = await self._resolve(url)
            self._locks.pop(url, None)
        if isinstance(found, InvalidClientDocument):
            raise found
        return found

    def _fresh(self, url: str) -> Client | InvalidClientDocument | None:
        entry = self._entries.get(url)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    async def _resolve(self, url: str) -> Client | InvalidClientDocument:
        result: Client | InvalidClientDocument
        try:
            document, ttl = await self._fetch(url)
            result = client_from_document(url, document)
        except InvalidClientDocument as problem:
            result, ttl = problem, FAILURE_TTL
        if len(self._entries) >= MAX_CACHED:
            self._entries.pop(next(iter(self._entries)))
        self._entries[url] = (time.monotonic() + ttl, result)
        return result

    async def _fetch(self, url: str) -> tuple[Any, int]:
        failed = InvalidClientDocument("invalid_client", "client_id metadata document fetch failed")
        async with self._fetches:
            try:
                async with (
                    outbound.guarded_client(
                        timeout=TIMEOUT, headers={"User-Agent": "", "Accept": "application/json"}
                    ) as http,
                    http.stream("GET", url) as response,
                ):
                    if response.status_code != 200:
                        raise failed
                    body = b""
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY:
                            raise failed
                    cache_control = response.headers.get("cache-control")
            except InvalidClientDocument:
                raise
            except Exception:  # network, guard, TLS, timeout: the same answer
                raise failed from None
        try:
            return json.loads(body), _ttl(cache_control)
        except ValueError:
            raise InvalidClientDocument(
                "invalid_client_metadata", "the document is not JSON"
            ) from None
