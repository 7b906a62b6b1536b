"""The authorization endpoint: RFC 6749 §4.1.1-§4.1.2.1, RFC 7636, RFC 8707, RFC 9207,
RFC 9700 §2.1/§4.11, OpenID Connect Core §3.1.2 (prompt, max_age), Form Post Response Mode."""

from __future__ import annotations

from urllib.parse import unquote, urlencode

import httpx

from tests.conftest import App, User, make_app
from tests.flows import get_code, redeem
from tests.support import Browser, Server, authorize_url, pkce_pair, query_of


def _error_redirect(browser: Browser, url: str) -> dict[str, str]:
    response = browser.client.get(url)
    assert response.status_code == 303, response.text
    return query_of(response.headers["location"])


def test_rfc6749_4_1_2_1_unknown_client_shows_error_page_without_redirect(
    browser: Browser, server: Server
) -> None:
    response = browser.client.get(
        authorize_url(server, "nosuchclient", "http://localhost:3000/callback")
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "invalid_client" in response.text


def test_rfc9700_4_11_unregistered_redirect_uri_is_never_redirected_to(
    browser: Browser, server: Server, web_app: App
) -> None:
    for uri in (
        "https://evil.example/callback",
        web_app.redirect_uri + "/",
        web_app.redirect_uri + "?x=1",
    ):
        response = browser.client.get(authorize_url(server, web_app.id, uri))
        assert response.status_code == 400, uri
        assert "location" not in response.headers
        assert "redirect_uri did not match" in response.text


def test_rfc6749_4_1_2_1_errors_after_redirect_check_go_to_client_with_state_and_iss(
    browser: Browser, server: Server, web_app: App
) -> None:
    query = _error_redirect(
        browser,
        authorize_url(server, web_app.id, web_app.redirect_uri, response_type="token", state="s1"),
    )
    assert query == {
        "error": "unsupported_response_type",
        "state": "s1",
        "iss": server.issuer,
        "error_description": query["error_description"],
    }


def test_oidc_3_1_2_1_openid_scope_is_required(
    browser: Browser, server: Server, web_app: App
) -> None:
    query = _error_redirect(
        browser, authorize_url(server, web_app.id, web_app.redirect_uri, scope="profile")
    )
    assert query["error"] == "invalid_request"


def test_rfc7636_public_client_must_use_pkce(
    browser: Browser, server: Server, spa_app: App
) -> None:
    query = _error_redirect(browser, authorize_url(server, spa_app.id, spa_app.redirect_uri))
    assert query["error"] == "invalid_request"
    assert "PKCE" in query["error_description"]


def test_rfc7636_plain_method_is_rejected(browser: Browser, server: Server, web_app: App) -> None:
    _, challenge = pkce_pair()
    query = _error_redirect(
        browser,
        authorize_url(
            server,
            web_app.id,
            web_app.redirect_uri,
            code_challenge=challenge,
            code_challenge_method="plain",
        ),
    )
    assert query["error"] == "invalid_request"
    assert "S256" in query["error_description"]


def test_rfc8707_unknown_resource_is_invalid_target(
    browser: Browser, server: Server, web_app: App
) -> None:
    query = _error_redirect(
        browser,
        authorize_url(
            server, web_app.id, web_app.redirect_uri, resource="https://unknown.example/api"
        ),
    )
    assert query["error"] == "invalid_target"


def test_oidc_6_request_objects_are_refused_not_ignored(
    browser: Browser, server: Server, web_app: App
) -> None:
    """Acting as if ``request`` were absent would answer a request other than the client's."""
    for name, value, error in (
        ("request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.", "invalid_request_object"),
        ("request_uri", "https://client.example/request.jwt", "request_uri_not_supported"),
        ("registration", '{"logo_uri": "https://x"}', "registration_not_supported"),
    ):
        url = authorize_url(server, web_app.id, web_app.redirect_uri, state="s1", **{name: value})
        query = _error_redirect(browser, url)
        assert query["error"] == error, (name, query)
        assert query["state"] == "s1" and query["iss"] == server.issuer


def test_rfc6749_3_1_repeated_parameter_is_invalid_request(
    browser: Browser, server: Server, web_app: App
) -> None:
    url = authorize_url(server, web_app.id, web_app.redirect_uri) + "&scope=openid"
    assert _error_redirect(browser, url)["error"] == "invalid_request"


def test_oidc_3_1_2_6_prompt_none_without_session_is_login_required(
    browser: Browser, server: Server, web_app: App
) -> None:
    query = _error_redirect(
        browser, authorize_url(server, web_app.id, web_app.redirect_uri, prompt="none", state="abc")
    )
    assert (query["error"], query["state"], query["iss"]) == (
        "login_required",
        "abc",
        server.issuer,
    )


def test_rfc9207_success_response_carries_iss_and_state(
    browser: Browser, server: Server, web_app: App, user: User
) -> None:
    _, challenge = pkce_pair()
    url = authorize_url(
        server,
        web_app.id,
        web_app.redirect_uri,
        state="xyz",
        unknown_param="ignored",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    query = query_of(browser.sign_in(url, user.username, user.password))
    assert query["state"] == "xyz"
    assert query["iss"] == server.issuer
    assert len(query["code"]) >= 43


def test_sso_session_skips_sign_in_and_prompt_login_forces_it(
    browser: Browser, server: Server, web_app: App, user: User
) -> None:
    get_code(browser, server, web_app, user)
    again = browser.client.get(authorize_url(server, web_app.id, web_app.redirect_uri))
    assert again.status_code == 303 and "code=" in again.headers["location"]
    forced = browser.follow_until_external(
        browser.client.get(authorize_url(server, web_app.id, web_app.redirect_uri, prompt="login"))
    )
    assert forced.status_code == 200 and "Sign in" in forced.text
    max_age = browser.follow_until_external(
        browser.client.get(authorize_url(server, web_app.id, web_app.redirect_uri, max_age="0"))
    )
    assert max_age.status_code == 200 and "csrf_token" in max_age.text


def test_login_hint_prefills_the_identifier(browser: Browser, server: Server, web_app: App) -> None:
    page = browser.follow_until_external(
        browser.client.get(
            authorize_url(
                server, web_app.id, web_app.redirect_uri, login_hint="someone@example.com"
            )
        )
    )
    assert 'value="someone@example.com"' in page.text


def test_form_post_response_mode_posts_code_state_iss(
    browser: Browser, server: Server, web_app: App, user: User
) -> None:
    get_code(browser, server, web_app, user)  # establish a session
    response = browser.client.get(
        authorize_url(
            server, web_app.id, web_app.redirect_uri, response_mode="form_post", state="fp"
        )
    )
    assert response.status_code == 200
    assert f'action="{web_app.redirect_uri}"' in response.text
    assert 'name="state" value="fp"' in response.text
    assert f'name="iss" value="{server.issuer}"' in response.text
    assert "form-action http://localhost:3000" in response.headers["content-security-policy"]


def test_offline_access_dropped_without_prompt_consent(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    code, verifier = get_code(browser, server, web_app, user, scope="openid offline_access")
    body = redeem(http, web_app, code, verifier).json()
    assert "refresh_token" not in body
    assert "offline_access" not in body["scope"].split()


def test_rfc8252_7_3_native_loopback_redirect_matches_any_port(
    browser: Browser, server: Server, http: httpx.Client, user: User
) -> None:
    native = make_app(server, "Native", redirect_uri="http://127.0.0.1/callback")
    verifier, challenge = pkce_pair()
    url = authorize_url(
        server,
        native.id,
        "http://127.0.0.1:51234/callback",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    code = query_of(browser.sign_in(url, user.username, user.password))["code"]
    response = http.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": native.id,
            "redirect_uri": "http://127.0.0.1:51234/callback",
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text


def test_go_sdk_unescaped_sign_in_url_is_accepted(
    browser: Browser, server: Server, web_app: App, user: User
) -> None:
    """logto-io/go builds the query with url.QueryUnescape(values.Encode()): raw spaces, ':'
    and '/' (the browser then percent-encodes the spaces)."""
    _, challenge = pkce_pair()
    encoded = urlencode(
        {
            "client_id": web_app.id,
            "redirect_uri": web_app.redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "go-state",
            "scope": "openid offline_access profile",
            "response_type": "code",
            "prompt": "consent",
        }
    )
    raw_url = f"{server.issuer}/auth?{unquote(encoded.replace('+', ' '))}"
    assert " " in raw_url and "http://localhost:3000/callback" in raw_url
    query = query_of(browser.sign_in(raw_url, user.username, user.password))
    assert query["state"] == "go-state"
    assert "code" in query


def test_post_to_authorization_endpoint_is_read_like_get(
    browser: Browser, server: Server, web_app: App
) -> None:
    response = browser.client.post(
        f"{server.issuer}/auth",
        data={
            "client_id": web_app.id,
            "redirect_uri": web_app.redirect_uri,
            "response_type": "code",
            "scope": "openid",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
