"""A user's grants to applications (Logto's ``/api/users/:id/grants``) and the concurrent
device limit (``customClientMetadata.maxAllowedGrants``, the ``Grant.LimitExceeded`` event).

Each browser that signs the user in to an application holds one grant; signing in again in
the same browser keeps it. Revoking a grant, by hand or by the limit, ends every refresh
token of it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from portico.storage.tables import logs, oidc_model_instances
from tests.conftest import App, User, make_app, make_user
from tests.flows import tokens_for
from tests.support import Browser, Server, authorize_url, browser_client, csrf_of, query_of
from tests.test_webhooks_api import create_hook
from tests.webhook_receiver import Receiver, receiver

OFFLINE = {"scope": "openid offline_access", "prompt": "consent"}
GRANT_DAYS = 180


def _refresh(http: httpx.Client, app: App, token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return http.post("/oidc/token", data=data, headers=app.basic())


def _sign_in(server: Server, http: httpx.Client, app: App, user: User, **params: str) -> str:
    """A new browser signs ``user`` in to ``app``: its refresh token."""
    with browser_client() as client:
        tokens = tokens_for(Browser(server, client), server, http, app, user, **(OFFLINE | params))
    return str(tokens["refresh_token"])


def _grants(admin: httpx.Client, user_id: str, **params: str) -> list[dict[str, Any]]:
    response = admin.get(f"/users/{user_id}/grants", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["grants"])


@pytest.fixture
def inbox() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


def test_grants_are_listed_one_per_browser(
    admin: httpx.Client, server: Server, http: httpx.Client, browser: Browser, web_app: App
) -> None:
    user = make_user(server)
    assert _grants(admin, user.id) == []
    started = time.time()
    tokens_for(browser, server, http, web_app, user, **OFFLINE)
    tokens_for(browser, server, http, web_app, user, **OFFLINE)  # the same browser again
    [grant] = _grants(admin, user.id)
    assert grant["application"]["id"] == web_app.id and grant["application"]["name"]
    payload = grant["payload"]
    assert payload["kind"] == "Grant" and payload["jti"] == grant["id"]
    assert (payload["accountId"], payload["clientId"]) == (user.id, web_app.id)
    assert started - 2 <= payload["iat"] <= time.time() + 1
    assert payload["exp"] - payload["iat"] == GRANT_DAYS * 86400
    assert abs(grant["expiresAt"] - payload["exp"] * 1000) < 1000

    _sign_in(server, http, web_app, user)  # another browser: another grant
    assert len(_grants(admin, user.id)) == 2
    assert _grants(admin, make_user(server).id) == []  # nobody else's


def test_app_type_filter(
    admin: httpx.Client, server: Server, http: httpx.Client, web_app: App
) -> None:
    user = make_user(server)
    third = make_app(server, "Traditional", is_third_party=True)
    _sign_in(server, http, web_app, user)
    with browser_client() as client:  # a third-party application asks for consent
        browser = Browser(server, client)
        url = authorize_url(server, third.id, third.redirect_uri, scope="openid")
        page = browser.follow_until_external(client.get(url))
        page = browser.follow_until_external(client.post(f"{server.endpoint}/sign-in", data={
            "csrf_token": csrf_of(page.text), "identifier": user.username,
            "password": user.password}))  # fmt: skip
        assert "/consent" in page.text, page.text[:300]
        allow = {"csrf_token": csrf_of(page.text), "decision": "allow"}
        done = client.post(f"{server.endpoint}/consent", data=allow)
        assert "code" in query_of(browser.follow_until_external(done).headers["location"])
    every = {g["application"]["id"] for g in _grants(admin, user.id)}
    assert every == {web_app.id, third.id}
    first_party = _grants(admin, user.id, appType="firstParty")
    assert [g["application"]["id"] for g in first_party] == [web_app.id]
    third_party = _grants(admin, user.id, appType="thirdParty")
    assert [g["application"]["id"] for g in third_party] == [third.id]
    refused = admin.get(f"/users/{user.id}/grants", params={"appType": "secondParty"})
    assert refused.status_code == 400 and refused.json()["code"] == "guard.invalid_input"


def test_revoking_a_grant_ends_its_refresh_tokens(
    admin: httpx.Client, server: Server, http: httpx.Client, web_app: App
) -> None:
    user, other = make_user(server), make_user(server)
    first = _sign_in(server, http, web_app, user)
    second = _sign_in(server, http, web_app, user)
    oldest, newest = _grants(admin, user.id)
    for grant_id, owner in (("nope", user.id), (oldest["id"], other.id)):
        missing = admin.delete(f"/users/{owner}/grants/{grant_id}")
        assert missing.status_code == 404 and missing.json()["code"] == "oidc.invalid_grant"
    assert _refresh(http, web_app, first).status_code == 200  # nothing changed

    revoked = admin.delete(f"/users/{user.id}/grants/{oldest['id']}")
    assert revoked.status_code == 204, revoked.text
    assert _refresh(http, web_app, first).json()["error"] == "invalid_grant"
    assert _refresh(http, web_app, second).status_code == 200
    assert [g["id"] for g in _grants(admin, user.id)] == [newest["id"]]
    again = admin.delete(f"/users/{user.id}/grants/{oldest['id']}")
    assert again.status_code == 404


def test_the_limit_revokes_the_oldest_grants_and_says_so(
    admin: httpx.Client, server: Server, http: httpx.Client, inbox: Receiver
) -> None:
    """Logto's integration test, over HTTP: two sign-ins, then the limit set to 1; the next
    sign-in revokes the two older grants, reported by ``Grant.LimitExceeded``."""
    app = make_app(server, "Traditional")
    hook = create_hook(admin, inbox.url, ["Grant.LimitExceeded"])
    user = make_user(server)
    first = _sign_in(server, http, app, user)
    second = _sign_in(server, http, app, user)
    older = [g["id"] for g in _grants(admin, user.id)]
    patched = admin.patch(
        f"/applications/{app.id}", json={"customClientMetadata": {"maxAllowedGrants": 1}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["customClientMetadata"]["maxAllowedGrants"] == 1

    third = _sign_in(server, http, app, user)
    for revoked in (first, second):
        assert _refresh(http, app, revoked).json()["error"] == "invalid_grant"
    assert _refresh(http, app, third).status_code == 200
    [kept] = _grants(admin, user.id)
    assert kept["id"] not in older

    [event] = inbox.wait_for(1, lambda d: d.payload["hookId"] == hook["id"])
    payload = event.payload
    assert payload["event"] == "Grant.LimitExceeded"
    assert (payload["userId"], payload["applicationId"]) == (user.id, app.id)
    assert payload["maxAllowedGrants"] == 1 and payload["preRevocationActiveGrantCount"] == 3
    assert sorted(payload["revokedGrantIds"]) == sorted(older)
    assert event.signed_with(hook["signingKey"])

    async def entries(conn):  # type: ignore[no-untyped-def]
        query = select(logs.c.payload).where(
            logs.c.key == "RevokeGrants", logs.c.user_id == user.id
        )
        return [row.payload for row in await conn.execute(query)]

    [entry] = server.db(entries)
    assert entry["applicationId"] == app.id and sorted(entry["revokeGrantIds"]) == sorted(older)
    assert entry["reason"] == "maxAllowedGrants limit reached" and entry["ip"]

    # Within the limit nothing more is revoked: the same browser's grant goes on.
    assert len(inbox.of("Grant.LimitExceeded")) == 1


def test_no_refresh_token_outlives_its_grant(
    admin: httpx.Client, server: Server, http: httpx.Client, web_app: App
) -> None:
    """A confidential client's refresh token slides on with each rotation (``rotateRefresh
    Token``), but never past the end of its grant."""
    user = make_user(server)
    patched = admin.patch(
        f"/applications/{web_app.id}",
        json={"customClientMetadata": {"rotateRefreshToken": True, "refreshTokenTtlInDays": 30}},
    )
    assert patched.status_code == 200, patched.text
    token = _sign_in(server, http, web_app, user)
    [grant] = _grants(admin, user.id)
    grant_end = int(time.time() * 1000) + 5_000  # as if the grant were ending in 5 seconds
    table = oidc_model_instances

    async def shorten(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(table.c.model_name, table.c.id, table.c.payload).where(
                table.c.grant_id == grant["id"], table.c.model_name == "RefreshToken"
            )
        )
        for row in rows:
            await conn.execute(
                update(table)
                .where(table.c.model_name == row.model_name, table.c.id == row.id)
                .values(payload={**row.payload, "grantExp": grant_end, "iat": 0})
            )

    async def refresh_expiries(conn):  # type: ignore[no-untyped-def]
        query = select(table.c.expires_at).where(
            table.c.grant_id == grant["id"], table.c.model_name == "RefreshToken"
        )
        return [row.expires_at for row in await conn.execute(query)]

    server.db(shorten)
    rotated = _refresh(http, web_app, token)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != token
    assert grant_end in server.db(refresh_expiries)


def test_each_device_is_a_grant_and_the_limit_applies(
    admin: httpx.Client, server: Server, http: httpx.Client, device_app: str
) -> None:
    """The device flow (RFC 8628): each approved device holds a grant of its own."""
    from tests.test_rfc8628_device_flow import _confirm_on_the_page, _poll, _start

    limited = {"customClientMetadata": {"isDeviceFlow": True, "maxAllowedGrants": 1}}
    assert admin.patch(f"/applications/{device_app}", json=limited).status_code == 200
    user = make_user(server)

    def device_signs_in() -> str:
        body = _start(http, device_app)
        with browser_client() as client:
            browser = Browser(server, client)
            assert _confirm_on_the_page(browser, body["user_code"]).status_code == 303
            page = browser.get("/sign-in")
            done = client.post(f"{server.endpoint}/sign-in", data={
                "csrf_token": csrf_of(page.text), "identifier": user.username,
                "password": user.password})  # fmt: skip
            assert "approved" in str(browser.follow_until_external(done).url)
        tokens = _poll(http, device_app, body["device_code"])
        assert tokens.status_code == 200, tokens.text
        return str(tokens.json()["refresh_token"])

    def refresh(token: str) -> httpx.Response:
        data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": device_app}
        return http.post("/oidc/token", data=data)

    living_room = device_signs_in()
    [first] = _grants(admin, user.id)
    assert first["application"]["id"] == device_app
    kitchen = device_signs_in()
    assert refresh(living_room).json()["error"] == "invalid_grant"
    assert refresh(kitchen).status_code == 200
    [second] = _grants(admin, user.id)
    assert second["id"] != first["id"]
