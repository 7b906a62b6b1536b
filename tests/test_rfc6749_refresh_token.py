"""Refresh tokens: RFC 6749 §6, RFC 9700 §4.14.2 (rotation, reuse detection), Logto's
rotation and echo rules, RFC 8707 resource tokens from a refresh."""

from __future__ import annotations

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import App, User, make_user
from tests.flows import tokens_for
from tests.support import Browser, Server

OFFLINE = {"scope": "openid profile offline_access", "prompt": "consent"}


def _refresh(http: httpx.Client, app: App, token: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token, **extra}
    if app.secret:
        return http.post("/oidc/token", data=data, headers=app.basic())
    return http.post("/oidc/token", data={**data, "client_id": app.id})


def test_confidential_client_refresh_echoes_the_same_token(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    first = tokens_for(browser, server, http, web_app, user, **OFFLINE)
    refreshed = _refresh(http, web_app, first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["refresh_token"] == first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    assert "id_token" in body


def test_rfc9700_4_14_2_public_client_rotates_and_reuse_revokes_the_grant(
    browser: Browser, server: Server, http: httpx.Client, spa_app: App, user: User
) -> None:
    first = tokens_for(browser, server, http, spa_app, user, **OFFLINE)
    second = _refresh(http, spa_app, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    reuse = _refresh(http, spa_app, first["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    # the whole family is gone, including the token rotated in
    assert _refresh(http, spa_app, second["refresh_token"]).json()["error"] == "invalid_grant"
    me = http.get("/oidc/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 401


def test_refresh_token_is_bound_to_its_client(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, spa_app: App, user: User
) -> None:
    first = tokens_for(browser, server, http, web_app, user, **OFFLINE)
    assert _refresh(http, spa_app, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_scope_may_narrow_but_not_widen(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    first = tokens_for(browser, server, http, web_app, user, **OFFLINE)
    narrowed = _refresh(http, web_app, first["refresh_token"], scope="openid").json()
    assert narrowed["scope"] == "openid"
    widened = _refresh(http, web_app, first["refresh_token"], scope="openid email")
    assert widened.json()["error"] == "invalid_scope"


def test_rfc8707_refresh_for_a_resource_gives_jwt_with_role_scopes(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, api_resource
) -> None:
    member = make_user(server, roles=(api_resource.role,))
    first = tokens_for(
        browser,
        server,
        http,
        web_app,
        member,
        scope="openid offline_access read admin",
        prompt="consent",
        resource=api_resource.indicator,
    )
    response = _refresh(http, web_app, first["refresh_token"], resource=api_resource.indicator)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    keys = KeySet.import_key_set(http.get("/oidc/jwks").json())
    decoded = jwt.decode(token, keys, algorithms=["ES384"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.claims["aud"] == api_resource.indicator
    assert decoded.claims["sub"] == member.id
    assert decoded.claims["client_id"] == web_app.id
    assert decoded.claims["scope"] == "read"  # admin requested but not granted by the role
    other = _refresh(
        http, web_app, first["refresh_token"], resource="https://not-authorized.example"
    )
    assert other.json()["error"] == "invalid_target"


def test_suspended_or_deleted_user_cannot_refresh(
    browser: Browser, server: Server, http: httpx.Client, web_app: App
) -> None:
    from sqlalchemy import update

    from portico.storage.tables import users

    member = make_user(server)
    first = tokens_for(browser, server, http, web_app, member, **OFFLINE)

    async def suspend(conn):  # type: ignore[no-untyped-def]
        await conn.execute(update(users).where(users.c.id == member.id).values(is_suspended=True))

    server.db(suspend)
    assert _refresh(http, web_app, first["refresh_token"]).json()["error"] == "invalid_grant"
