"""OpenID Connect RP-Initiated Logout 1.0: registered post-logout URIs only, confirmation
without a hint, no redirect on a bad hint."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from tests.conftest import App, User
from tests.flows import tokens_for
from tests.support import Browser, Server, csrf_of


def _end(server: Server, **params: str) -> str:
    return f"{server.issuer}/session/end?{urlencode(params)}"


def test_unregistered_post_logout_redirect_uri_is_an_error_page(
    browser: Browser, server: Server, web_app: App
) -> None:
    response = browser.client.get(
        _end(server, client_id=web_app.id, post_logout_redirect_uri="https://evil.example/")
    )
    assert response.status_code == 400
    assert "location" not in response.headers


def test_invalid_id_token_hint_never_redirects(
    browser: Browser, server: Server, web_app: App
) -> None:
    response = browser.client.get(
        _end(
            server,
            id_token_hint="e30.e30.sig",
            post_logout_redirect_uri=web_app.post_logout_redirect_uri,
        )
    )
    assert response.status_code == 400
    assert "location" not in response.headers


def test_without_hint_the_user_confirms_then_is_signed_out(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    tokens_for(browser, server, http, web_app, user)
    page = browser.client.get(
        _end(
            server,
            client_id=web_app.id,
            state="bye",
            post_logout_redirect_uri=web_app.post_logout_redirect_uri,
        )
    )
    assert page.status_code == 200 and "Yes, sign me out" in page.text
    forged = browser.client.post(
        f"{server.issuer}/session/end/confirm",
        data={"csrf_token": "forged", "logout": "yes", "client_id": web_app.id},
    )
    assert forged.status_code == 400
    done = browser.client.post(
        f"{server.issuer}/session/end/confirm",
        data={
            "csrf_token": csrf_of(page.text),
            "logout": "yes",
            "client_id": web_app.id,
            "state": "bye",
            "post_logout_redirect_uri": web_app.post_logout_redirect_uri,
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == web_app.post_logout_redirect_uri + "?state=bye"
    # the SSO session is gone: the next authorization asks for the password again
    again = browser.follow_until_external(
        browser.client.get(
            f"{server.issuer}/auth?client_id={web_app.id}&redirect_uri={web_app.redirect_uri}"
            "&response_type=code&scope=openid"
        )
    )
    assert again.status_code == 200 and "csrf_token" in again.text


def test_valid_hint_for_current_user_logs_out_at_once(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    body = tokens_for(browser, server, http, web_app, user)
    response = browser.client.get(
        _end(
            server,
            id_token_hint=body["id_token"],
            post_logout_redirect_uri=web_app.post_logout_redirect_uri,
        )
    )
    assert response.status_code == 303
    assert response.headers["location"] == web_app.post_logout_redirect_uri
