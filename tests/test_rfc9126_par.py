"""Pushed authorization requests (RFC 9126) against the real server: a request pushed by an
authenticated client comes back as a short-lived, single-use ``request_uri`` that stands for
the whole authorization request."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import update

from portico.storage.tables import oidc_model_instances
from tests.conftest import App, User, make_app
from tests.support import Browser, Server, pkce_pair, query_of

URN = "urn:ietf:params:oauth:request_uri:"


def _push(http: httpx.Client, app: App, **params: str) -> httpx.Response:
    _, challenge = pkce_pair()
    body = {"response_type": "code", "redirect_uri": app.redirect_uri, "scope": "openid",
            "code_challenge": challenge, "code_challenge_method": "S256", "state": "st",
            **params}  # fmt: skip
    return http.post("/oidc/request", data=body, headers=app.basic())


def _authorize(server: Server, app: App, request_uri: str) -> str:
    query = urlencode({"client_id": app.id, "request_uri": request_uri})
    return f"{server.issuer}/auth?{query}"


def test_rfc9126_2_1_2_2_a_pushed_request_signs_in_and_yields_a_code(
    http: httpx.Client, server: Server, web_app: App, user: User, browser: Browser
) -> None:
    pushed = _push(http, web_app)
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert body["request_uri"].startswith(URN) and body["expires_in"] == 60
    assert pushed.headers["cache-control"] == "no-store"
    callback = browser.sign_in(_authorize(server, web_app, body["request_uri"]),
                               user.username, user.password)  # fmt: skip
    returned = query_of(callback)
    assert callback.startswith(web_app.redirect_uri) and returned["code"]
    assert returned["state"] == "st" and returned["iss"] == server.issuer


def test_rfc9126_4_a_request_uri_is_single_use(
    http: httpx.Client, server: Server, web_app: App, user: User, browser: Browser
) -> None:
    request_uri = _push(http, web_app).json()["request_uri"]
    browser.sign_in(_authorize(server, web_app, request_uri), user.username, user.password)
    again = browser.client.get(_authorize(server, web_app, request_uri))
    assert again.status_code == 400 and "invalid_request_uri" in again.text
    assert "location" not in again.headers


def test_rfc9126_4_an_expired_or_unknown_request_uri_is_refused(
    http: httpx.Client, server: Server, web_app: App, browser: Browser
) -> None:
    request_uri = _push(http, web_app).json()["request_uri"]

    async def expire(conn: Any) -> None:
        await conn.execute(update(oidc_model_instances)
                           .where(oidc_model_instances.c.model_name == "PushedAuthorizationRequest")
                           .values(expires_at=1))  # fmt: skip

    server.db(expire)
    for uri in (request_uri, URN + "made-up"):
        refused = browser.client.get(_authorize(server, web_app, uri))
        assert refused.status_code == 400 and "invalid_request_uri" in refused.text, uri


def test_rfc9126_4_the_request_uri_belongs_to_the_client_that_pushed_it(
    http: httpx.Client, server: Server, web_app: App, browser: Browser
) -> None:
    request_uri = _push(http, web_app).json()["request_uri"]
    other = make_app(server, "Traditional")
    refused = browser.client.get(_authorize(server, other, request_uri))
    assert refused.status_code == 400 and "another client" in refused.text


def test_rfc9126_2_1_the_push_is_authenticated_and_checked(
    http: httpx.Client, web_app: App
) -> None:
    request = {"client_id": web_app.id, "redirect_uri": web_app.redirect_uri,
               "response_type": "code", "scope": "openid"}  # fmt: skip
    anonymous = http.post("/oidc/request", data=request)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    # Errors in the request itself are answered to the client, not by a redirect.
    wrong = _push(http, web_app, redirect_uri="https://evil.example/cb")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"
    bad_type = _push(http, web_app, response_type="token")
    assert bad_type.status_code == 400 and bad_type.json()["error"] == "unsupported_response_type"
    nested = _push(http, web_app, request_uri=URN + "x")
    assert nested.status_code == 400 and nested.json()["error"] == "invalid_request"
    other_id = _push(http, web_app, client_id="someone-else")
    assert other_id.status_code in (400, 401)


def test_rfc9126_6_a_client_may_require_par(
    http: httpx.Client, server: Server, admin: httpx.Client, browser: Browser
) -> None:
    app = make_app(server, "Traditional")
    changed = admin.patch(f"/applications/{app.id}", json={"oidcClientMetadata": {
        "redirectUris": [app.redirect_uri], "postLogoutRedirectUris": [],
        "requirePushedAuthorizationRequests": True}})  # fmt: skip
    assert changed.status_code == 200, changed.text
    _, challenge = pkce_pair()
    query = {
        "client_id": app.id,
        "redirect_uri": app.redirect_uri,
        "response_type": "code",
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    direct = browser.client.get(f"{server.issuer}/auth?" + urlencode(query))
    assert direct.status_code == 400 and "PAR" in direct.text
    pushed = _push(http, app)
    assert pushed.status_code == 201, pushed.text
    through = browser.client.get(_authorize(server, app, pushed.json()["request_uri"]))
    assert through.status_code in (302, 303)  # on to the sign-in page


def test_rfc9126_5_discovery_names_the_endpoint(http: httpx.Client, server: Server) -> None:
    doc = http.get("/oidc/.well-known/openid-configuration").json()
    assert doc["pushed_authorization_request_endpoint"] == f"{server.issuer}/request"
    assert doc["require_pushed_authorization_requests"] is False
