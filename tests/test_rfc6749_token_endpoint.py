"""The token endpoint: RFC 6749 §2.3 (client auth), §4.1.3 (code), §5.2 (errors),
RFC 7636 §4.6, RFC 9700 §4.2.4 (code replay revokes), OAuth 2.1 §3.2.3 (no-store)."""

from __future__ import annotations

import base64

import httpx

from tests.conftest import App, User, make_app
from tests.flows import get_code, redeem
from tests.support import Browser, Server


def test_rfc6749_4_1_3_code_exchange_returns_bearer_tokens_not_cached(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    code, verifier = get_code(browser, server, web_app, user)
    response = redeem(http, web_app, code, verifier)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] == 3600
    assert body["scope"] == "openid profile"
    assert body["id_token"].count(".") == 2


def test_rfc9700_4_2_4_second_redemption_fails_and_revokes_first_tokens(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    code, verifier = get_code(browser, server, web_app, user)
    first = redeem(http, web_app, code, verifier).json()
    me = http.get("/oidc/me", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert me.status_code == 200
    second = redeem(http, web_app, code, verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    revoked = http.get("/oidc/me", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert revoked.status_code == 401
    assert revoked.json()["error"] == "invalid_token"


def test_code_is_bound_to_its_client(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    other = make_app(server, "Traditional")
    code, verifier = get_code(browser, server, web_app, user)
    response = http.post(
        "/oidc/token",
        headers=other.basic(),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": other.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert response.json()["error"] == "invalid_grant"
    assert redeem(http, web_app, code, verifier).status_code == 200  # still usable by its owner


def test_redirect_uri_must_match_the_authorization_request(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    code, verifier = get_code(browser, server, web_app, user)
    response = redeem(http, web_app, code, verifier, redirect_uri="http://localhost:3000/other")
    assert response.json()["error"] == "invalid_grant"


def test_rfc7636_4_6_wrong_or_missing_verifier_is_invalid_grant(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    code, _ = get_code(browser, server, web_app, user)
    assert redeem(http, web_app, code, "x" * 43).json()["error"] == "invalid_grant"
    response = http.post(
        "/oidc/token",
        headers=web_app.basic(),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": web_app.redirect_uri,
        },
    )
    assert response.json()["error"] == "invalid_grant"


def test_rfc9700_2_1_1_verifier_without_challenge_is_rejected(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    from tests.support import authorize_url, query_of

    url = authorize_url(server, web_app.id, web_app.redirect_uri)  # confidential: PKCE optional
    code = query_of(browser.sign_in(url, user.username, user.password))["code"]
    response = redeem(http, web_app, code, "a" * 43)
    assert response.json()["error"] == "invalid_grant"
    assert "no code_challenge" in response.json()["error_description"]


def test_rfc6749_5_2_wrong_secret_is_401_with_www_authenticate(
    http: httpx.Client, web_app: App
) -> None:
    bad = base64.b64encode(f"{web_app.id}:wrong".encode()).decode()
    response = http.post(
        "/oidc/token",
        headers={"Authorization": f"Basic {bad}"},
        data={"grant_type": "authorization_code", "code": "x"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_client_secret_post_and_basic_with_matching_client_id_are_accepted(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    code, verifier = get_code(browser, server, web_app, user)
    post = http.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": web_app.redirect_uri,
            "code_verifier": verifier,
            "client_id": web_app.id,
            "client_secret": web_app.secret,
        },
    )
    assert post.status_code == 200, post.text
    code, verifier = get_code(browser, server, web_app, user)
    go_style = redeem(http, web_app, code, verifier, client_id=web_app.id)  # Basic + body client_id
    assert go_style.status_code == 200, go_style.text


def test_client_auth_mismatches_are_invalid_request(http: httpx.Client, web_app: App) -> None:
    both = http.post(
        "/oidc/token",
        headers=web_app.basic(),
        data={"grant_type": "authorization_code", "code": "x", "client_secret": web_app.secret},
    )
    assert both.json()["error"] == "invalid_request"
    mismatch = http.post(
        "/oidc/token",
        headers=web_app.basic(),
        data={"grant_type": "authorization_code", "code": "x", "client_id": "someone-else"},
    )
    assert mismatch.json()["error"] == "invalid_request"
    none = http.post("/oidc/token", data={"grant_type": "authorization_code", "code": "x"})
    assert none.json()["error_description"] == "no client authentication mechanism provided"


def test_json_body_is_accepted(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    code, verifier = get_code(browser, server, web_app, user)
    response = http.post(
        "/oidc/token",
        headers=web_app.basic(),
        json={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": web_app.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text


def test_grant_type_errors(http: httpx.Client, web_app: App) -> None:
    password = http.post(
        "/oidc/token",
        headers=web_app.basic(),
        data={"grant_type": "password", "username": "a", "password": "b"},
    )
    assert password.json()["error"] == "unsupported_grant_type"  # RFC 9700 §2.4: no ROPC
    m2m_only = http.post(
        "/oidc/token",
        headers=web_app.basic(),
        data={"grant_type": "client_credentials", "resource": "https://x"},
    )
    assert m2m_only.json()["error"] == "unauthorized_client"


def test_bad_bodies_get_oauth_errors_not_500(http: httpx.Client, web_app: App) -> None:
    cases = [
        {"content": b"\xff\xfe", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        {"content": b"[1,2]", "headers": {"content-type": "application/json"}},
        {"content": b"{", "headers": {"content-type": "application/json"}},
        {"content": b"a=b", "headers": {"content-type": "text/xml"}},
        {
            "content": b"grant_type=x%00",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
    ]
    for case in cases:
        response = http.post("/oidc/token", **case)
        assert response.status_code == 400, (case, response.text)
        assert response.json()["error"] in ("invalid_request", "unsupported_grant_type")
    huge = http.post(
        "/oidc/token",
        content=b"a=" + b"x" * 60_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413
