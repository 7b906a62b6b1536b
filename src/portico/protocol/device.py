"""The device authorization grant (RFC 8628), for ``Native`` applications with Logto's
``customClientMetadata.isDeviceFlow``: a device with no browser (a TV, a CLI) asks
``/oidc/device/auth`` for a device code and a short user code, shows the user code, and
polls the token endpoint while the user signs in on another device at ``/device``.

RFC 8628 §5 (security) as this server applies it: the user code is 8 characters from 20
consonants (34 bits; no vowels, so no words), and guessing is limited per address at the
device page (``web/device.py``); codes live ten minutes; a device polling faster than the
interval gets ``slow_down`` and a longer interval (§3.5); a device code is redeemed once.

Both codes are kept as artifacts (digests only): the device code's record carries the
request, its status (pending, approved with the user's session, denied) and the last poll.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from portico.ids import digest, opaque_token
from portico.protocol import tokens
from portico.protocol.errors import OAuthError, invalid_grant, invalid_request, invalid_target
from portico.protocol.grants import register, user_tokens
from portico.protocol.params import Params, required, resources, scope_set, single
from portico.protocol.provider import Provider
from portico.protocol.sessions import Session
from portico.services import user_grants
from portico.services.applications import DEVICE_CODE, Client
from portico.storage import users as users_repo

DEVICE = "DeviceCode"
USER_CODE = "DeviceUserCode"
TTL = 600
KEEP = TTL + 300  # kept past expiry to answer expired_token, not invalid_grant
INTERVAL = 5
CHARSET = "BCDFGHJKLMNPQRSTVWXZ"
DEVICE_MODE = "device"  # an AuthorizationRequest's response_mode for a device's sign-in


def new_user_code() -> str:
    return "".join(secrets.choice(CHARSET) for _ in range(8))


def shown(user_code: str) -> str:
    return f"{user_code[:4]}-{user_code[4:]}"


def normalise(typed: str) -> str:
    """What the user typed, as stored: letters only, upper case (``bcdf ghjk`` matches)."""
    return re.sub(r"[^A-Z]", "", typed.upper())[:8]


async def authorize(
    provider: Provider, client: Client, params: Params, endpoint: str
) -> dict[str, Any]:
    """RFC 8628 §3.1-3.2: a device code and a user code for the device to show."""
    if DEVICE_CODE not in client.grant_types:
        raise invalid_request(f"{DEVICE_CODE} is not allowed for this client")
    for name in ("request", "request_uri"):
        if single(params, name) is not None:
            raise OAuthError(f"{name}_not_supported", f"the '{name}' parameter is not supported")
    scopes = scope_set(single(params, "scope"))
    indicators = resources(params)
    for indicator in indicators:
        if await provider.resource(indicator) is None:
            raise invalid_target(f"resource indicator {indicator!r} is missing, or unknown")
    device_code = opaque_token()
    user_code = new_user_code()
    now = time.time()
    payload = {
        "clientId": client.id, "scope": " ".join(scopes), "resources": indicators,
        "userCode": user_code, "status": "pending", "expiresAt": now + TTL,
        "interval": INTERVAL, "lastPoll": 0.0,
        "uiLocales": single(params, "ui_locales"), "nonce": single(params, "nonce"),
    }  # fmt: skip
    await provider.artifacts.save(DEVICE, digest(device_code), payload, KEEP)
    await provider.artifacts.save(
        USER_CODE, digest(user_code), {"device": digest(device_code)}, TTL
    )
    page = f"{endpoint}/device"
    return {
        "device_code": device_code,
        "user_code": shown(user_code),
        "verification_uri": page,
        "verification_uri_complete": f"{page}?user_code={shown(user_code)}",
        "expires_in": TTL,
        "interval": INTERVAL,
    }


async def pending(provider: Provider, typed: str) -> tuple[str, dict[str, Any]] | None:
    """The pending, unexpired request a user code names: ``(its key, its record)``."""
    code = normalise(typed)
    if len(code) != 8:
        return None
    found = await provider.artifacts.find(USER_CODE, digest(code))
    if found is None:
        return None
    key = str(found.payload["device"])
    record = await provider.artifacts.find(DEVICE, key)
    if record is None or record.payload.get("status") != "pending":
        return None
    if record.payload["expiresAt"] < time.time():
        return None
    return key, record.payload


async def decide(
    provider: Provider,
    key: str,
    session: Session | None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> bool:
    """The user approved (``session``: the sign-in that approved) or denied (None) the
    device's request; False when it is no longer pending. Its user code is spent. An
    approval starts a grant of the device's own, which counts towards the application's
    grant limit (``services.user_grants``)."""
    record = await provider.artifacts.find(DEVICE, key)
    if record is None or record.payload.get("status") != "pending":
        return False
    payload = dict(record.payload)
    grant = None
    if session is None:
        payload["status"] = "denied"
    else:
        grant = user_grants.new_grant(payload["clientId"], session.account_id)
        payload.update(
            status="approved", accountId=session.account_id, grantId=grant.grant_id,
            grantExp=grant.expires_at, authTime=session.auth_time, sid=session.sid,
            amr=list(session.amr),
        )  # fmt: skip
        await provider.artifacts.save_all(grant.rows)
    await provider.artifacts.replace(DEVICE, key, payload)
    await provider.artifacts.destroy(USER_CODE, digest(payload["userCode"]))
    client = await provider.client(payload["clientId"]) if grant else None
    if session is not None and client is not None and client.max_allowed_grants is not None:
        await user_grants.enforce_limit(
            provider.engine, provider.artifacts, provider.tenant_id, client, session.account_id,
            ip=ip, user_agent=user_agent,
        )  # fmt: skip
    return True


# The grant a device's tokens come from, as oidc-provider names it in a token's ``gty``.
DEVICE_GTY = "device_code"


@register(DEVICE_CODE)
async def handle(provider: Provider, client: Client, params: Params) -> dict[str, Any]:
    """RFC 8628 §3.4-3.5: the device polls until the user decided."""
    device_code = required(params, "device_code")
    key = digest(device_code)
    record = await provider.artifacts.find(DEVICE, key)
    if record is None or record.payload.get("clientId") != client.id:
        raise invalid_grant("device code not found")
    payload = dict(record.payload)
    now = time.time()
    if payload["expiresAt"] < now:
        raise OAuthError("expired_token", "device code is expired")
    if payload["status"] == "pending":
        too_soon = now - float(payload.get("lastPoll") or 0) < payload["interval"]
        payload["lastPoll"] = now
        if too_soon:
            payload["interval"] = int(payload["interval"]) + 5  # RFC 8628 §3.5
        await provider.artifacts.replace(DEVICE, key, payload)
        if too_soon:
            raise OAuthError("slow_down", "polling too fast: wait longer between requests")
        raise OAuthError(
            "authorization_pending",
            "authorization request is still pending as the end-user hasn't yet completed the "
            "user interaction steps",
        )
    if payload["status"] == "denied":
        raise OAuthError("access_denied", "End-User aborted interaction")
    if not await provider.artifacts.consume(DEVICE, key):
        await provider.artifacts.revoke_grant(payload["grantId"])
        raise invalid_grant("device code already used; tokens issued with it are revoked")
    return await _tokens(provider, client, payload, params)


async def _tokens(
    provider: Provider, client: Client, payload: dict[str, Any], params: Params
) -> dict[str, Any]:
    account = await users_repo.read_user(provider.engine, provider.tenant_id, payload["accountId"])
    user = user_tokens.account_of(payload["accountId"], account)
    scopes = payload["scope"].split()
    response = await user_tokens.issue(
        provider, client, user, scopes=scopes, authorized_resources=payload["resources"],
        requested_resources=resources(params), grant_id=payload["grantId"],
        auth_time=payload.get("authTime"), sid=payload.get("sid"), nonce=payload.get("nonce"),
        amr=payload.get("amr"), gty=DEVICE_GTY,
    )  # fmt: skip
    if "offline_access" in scopes:
        now_ms = int(time.time() * 1000)
        response["refresh_token"] = await tokens.refresh_token(
            provider,
            {"accountId": user["id"], "clientId": client.id, "scope": payload["scope"],
             "resources": payload["resources"], "authTime": payload.get("authTime"),
             "sid": payload.get("sid"), "amr": payload.get("amr"), "iat": now_ms,
             "familyStart": now_ms, "ttl": client.refresh_token_ttl,
             "grantExp": payload.get("grantExp")},
            payload["grantId"], client.refresh_token_ttl,
            expires_at=tokens.within_grant(now_ms + client.refresh_token_ttl * 1000, payload),
        )  # fmt: skip
    await user_tokens.unless_revoked_meanwhile(provider, payload["grantId"])
    return response
