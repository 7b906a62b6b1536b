"""The device authorization grant (RFC 8628) against the real server: a device-flow Native
application gets codes, the user confirms on the device page and signs in on the hosted pages,
the device polls for its tokens; the RFC's security rules (slow_down, expiry, single use,
limited guessing)."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from sqlalchemy import select, update

from portico.storage.sentinel import clear_failures
from portico.storage.tables import oidc_model_instances
from tests.conftest import User
from tests.support import Browser, Server, csrf_of

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _start(http: httpx.Client, client_id: str, scope: str = "openid offline_access") -> dict:
    reply = http.post("/oidc/device/auth", data={"client_id": client_id, "scope": scope})
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def _poll(http: httpx.Client, client_id: str, device_code: str) -> httpx.Response:
    return http.post("/oidc/token", data={"grant_type": GRANT, "client_id": client_id,
                                          "device_code": device_code})  # fmt: skip


def _rewind_poll(server: Server) -> None:
    """As if the device had waited its interval (the test does not sleep five seconds)."""

    async def work(conn: Any) -> None:
        rows = await conn.execute(select(oidc_model_instances).where(
            oidc_model_instances.c.model_name == "DeviceCode"))  # fmt: skip
        for row in rows:
            payload = {**row.payload, "lastPoll": 0}
            await conn.execute(update(oidc_model_instances).where(
                oidc_model_instances.c.id == row.id).values(payload=payload))  # fmt: skip

    server.db(work)


def _confirm_on_the_page(
    browser: Browser, user_code: str, decision: str = "allow"
) -> httpx.Response:
    page = browser.get(f"/device?user_code={user_code}")
    assert page.status_code == 200 and user_code in page.text
    form = {"csrf_token": csrf_of(page.text), "user_code": user_code}
    checked = browser.client.post(f"{browser.server.endpoint}/device", data=form)
    assert checked.status_code == 200, checked.text
    assert "Living-room TV" in checked.text
    form = {"csrf_token": csrf_of(checked.text), "user_code": user_code, "decision": decision}
    return browser.client.post(f"{browser.server.endpoint}/device/confirm", data=form)


def test_rfc8628_3_2_the_device_authorization_response(
    http: httpx.Client, server: Server, device_app: str
) -> None:
    body = _start(http, device_app)
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", body["user_code"])
    assert body["verification_uri"] == f"{server.endpoint}/device"
    assert (
        body["verification_uri_complete"]
        == f"{server.endpoint}/device?user_code={body['user_code']}"
    )
    assert body["expires_in"] == 600 and body["interval"] == 5 and len(body["device_code"]) > 40


def test_rfc8628_3_3_to_3_5_confirm_sign_in_and_poll(
    http: httpx.Client, server: Server, browser: Browser, user: User, device_app: str
) -> None:
    body = _start(http, device_app)
    pending = _poll(http, device_app, body["device_code"])
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    too_fast = _poll(http, device_app, body["device_code"])
    assert too_fast.status_code == 400 and too_fast.json()["error"] == "slow_down"

    confirmed = _confirm_on_the_page(browser, body["user_code"].lower().replace("-", " "))
    assert confirmed.status_code == 303 and confirmed.headers["location"].endswith("/sign-in")
    sign_in = browser.get("/sign-in")
    done = browser.client.post(f"{server.endpoint}/sign-in", data={
        "csrf_token": csrf_of(sign_in.text), "identifier": user.username,
        "password": user.password})  # fmt: skip
    landed = browser.follow_until_external(done)
    assert str(landed.url).endswith("/device/success?result=approved"), landed.url
    assert "Your device is signed in" in landed.text

    tokens = _poll(http, device_app, body["device_code"])
    assert tokens.status_code == 200, tokens.text
    granted = tokens.json()
    assert {"access_token", "id_token", "refresh_token"} <= set(granted)
    me = http.get("/oidc/me", headers={"Authorization": f"Bearer {granted['access_token']}"})
    assert me.json()["sub"] == user.id
    # Redeemed once: a second redemption fails and revokes what the first issued.
    again = _poll(http, device_app, body["device_code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    revoked = http.get("/oidc/me", headers={"Authorization": f"Bearer {granted['access_token']}"})
    assert revoked.status_code == 401
    # The user code is spent too.
    page = browser.get("/device")
    reused = browser.client.post(f"{server.endpoint}/device", data={
        "csrf_token": csrf_of(page.text), "user_code": body["user_code"]})  # fmt: skip
    assert reused.status_code == 400 and "not valid or has expired" in reused.text


def test_rfc8628_3_5_a_cancelled_request_is_access_denied(
    http: httpx.Client, server: Server, browser: Browser, device_app: str
) -> None:
    body = _start(http, device_app)
    cancelled = _confirm_on_the_page(browser, body["user_code"], decision="deny")
    assert cancelled.headers["location"] == "/device/success?result=denied"
    denied = _poll(http, device_app, body["device_code"])
    assert denied.status_code == 400 and denied.json()["error"] == "access_denied"


def test_rfc8628_3_5_an_expired_code_is_expired_token(
    http: httpx.Client, server: Server, device_app: str
) -> None:
    body = _start(http, device_app)

    async def expire(conn: Any) -> None:
        rows = await conn.execute(select(oidc_model_instances).where(
            oidc_model_instances.c.model_name == "DeviceCode"))  # fmt: skip
        for row in rows:
            payload = {**row.payload, "expiresAt": time.time() - 1}
            await conn.execute(update(oidc_model_instances).where(
                oidc_model_instances.c.id == row.id).values(payload=payload))  # fmt: skip

    server.db(expire)
    expired = _poll(http, device_app, body["device_code"])
    assert expired.status_code == 400 and expired.json()["error"] == "expired_token"
    unknown = _poll(http, device_app, "not-a-device-code")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"


def test_rfc8628_5_1_guessing_user_codes_is_limited(
    server: Server, browser: Browser, device_app: str
) -> None:
    page = browser.get("/device")
    token = csrf_of(page.text)
    try:
        replies = [browser.client.post(f"{server.endpoint}/device",
                                       data={"csrf_token": token, "user_code": f"BCDF-{i:04d}"})
                   for i in range(21)]  # fmt: skip
    finally:  # the lock is on this address, which every test of this server shares
        server.db(lambda conn: clear_failures(conn, "default"))
    statuses = [r.status_code for r in replies]
    locked = statuses.index(429)  # at the latest after 20 wrong codes from this address
    assert set(statuses[:locked]) == {400} and set(statuses[locked:]) == {429}
    assert "Too many failed attempts" in replies[-1].text
    forged_form = {"csrf_token": "forged", "user_code": "BCDF-GHJK"}
    forged = browser.client.post(f"{server.endpoint}/device", data=forged_form)
    assert forged.status_code == 403


def test_only_device_flow_clients_use_it(http: httpx.Client, admin: httpx.Client) -> None:
    metadata = {"redirectUris": ["io.example:/cb"], "postLogoutRedirectUris": []}
    native = admin.post(
        "/applications", json={"name": "plain", "type": "Native", "oidcClientMetadata": metadata}
    )
    refused = http.post("/oidc/device/auth", data={"client_id": native.json()["id"]})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    doc = http.get("/oidc/.well-known/openid-configuration").json()
    assert doc["device_authorization_endpoint"].endswith("/oidc/device/auth")
    assert GRANT in doc["grant_types_supported"]
