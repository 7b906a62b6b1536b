"""XOAUTH2 access tokens: the configured one while valid, else one fetched with the refresh
token (RFC 6749 §6) from ``accessUrl``. Fetched tokens are kept in memory until they expire."""

from __future__ import annotations

import hashlib
import time

from portico.connectors.errors import ConnectorError
from portico.connectors.smtp.config import OAuth2Auth
from portico.net import outbound

TOKEN_FETCH_TIMEOUT = 10.0
_cache: dict[str, tuple[str, float]] = {}


def _oauth_error(detail: str) -> ConnectorError:
    return ConnectorError(
        "connector.general",
        f"Could not obtain an OAuth2 access token for SMTP: {detail}",
        reason="oauth_token",
    )


async def access_token(auth: OAuth2Auth) -> str:
    now_ms = time.time() * 1000
    if auth.accessToken is not None and (auth.expires is None or auth.expires > now_ms + 30_000):
        return auth.accessToken.get_secret_value()
    if not (auth.clientId and auth.clientSecret and auth.refreshToken):
        raise _oauth_error("the access token has expired and no refresh token is configured")
    key = hashlib.sha256(
        f"{auth.accessUrl}|{auth.clientId}|{auth.refreshToken.get_secret_value()}".encode()
    ).hexdigest()
    cached = _cache.get(key)
    if cached and cached[1] > time.monotonic() + 30:
        return cached[0]
    token, lifetime = await _refresh(auth)
    _cache[key] = (token, time.monotonic() + lifetime)
    return token


async def _refresh(auth: OAuth2Auth) -> tuple[str, float]:
    assert auth.clientSecret is not None and auth.refreshToken is not None
    form = {
        "grant_type": "refresh_token",
        "client_id": auth.clientId or "",
        "client_secret": auth.clientSecret.get_secret_value(),
        "refresh_token": auth.refreshToken.get_secret_value(),
    }
    import httpx  # here: most SMTP connectors never refresh a token (and it costs ~5 MB)

    # The SMTP relay may be on any address (the admin's infrastructure), but this is an HTTP
    # request to a URL from the configuration: guarded like every other (portico.net.outbound).
    try:
        async with outbound.guarded_client(timeout=TOKEN_FETCH_TIMEOUT) as client:
            response = await client.post(auth.accessUrl, data=form)
    except outbound.TargetRefused as exc:
        raise _oauth_error(f"{auth.accessUrl} refused: {exc}") from None
    except httpx.HTTPError as exc:
        raise _oauth_error(f"{auth.accessUrl} unreachable ({type(exc).__name__})") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body.get("access_token"), str):
        error = body.get("error", "no access_token in the response")
        raise _oauth_error(f"{auth.accessUrl} answered {response.status_code} ({error})")
    return body["access_token"], float(body.get("expires_in") or 3600)
